"""Fair pay under concurrency, on PostgreSQL with real processes: a double click pays once, two
settlements at once pay once, and a Celery worker killed in the middle of a settlement leaves,
after the re-run, the very ledger an uninterrupted run writes."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, transaction

from labeling import dispatch
from payments import ledger, services
from payments.models import Entry, Kind, Settlement, SettlementJob
from tests.factories import project_factory, user_factory
from tests.labeling.test_jobs_processes import _beat, _env, _queue_dropped_after, _until, _worker
from tests.payments.test_pay import T0, _work
from tests.processes import HeldLock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _at_once(count: int, work) -> list:
    """Run `work(i)` in `count` threads released together; their results or exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # reported to the test
            results[i] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_a_double_click_on_submit_pays_once():
    owner, annotator = user_factory("owner"), user_factory("annotator")
    project = project_factory(owner, tasks=2, publish=True)
    assignment = dispatch.assignment_next(annotator=annotator, project=project)
    results = _at_once(
        4,
        lambda i: dispatch.annotation_submit(
            annotator=annotator, assignment_id=assignment.pk, result={"label": "pos"}
        ),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.created for r in results) == 1
    pays = Entry.objects.filter(kind=Kind.TASK_PAY, annotator=annotator)
    assert [e.amount for e in pays] == [Decimal("0.10")]
    assert ledger.verify().ok


def test_two_settlements_at_once_pay_once():
    owner = user_factory("owner")
    project = project_factory(owner, tasks=4, publish=True)
    start = T0
    for _ in range(2):
        _assignment, start = _work(user_factory("annotator"), project, seconds=300, start=start)
    cutoff = start + timedelta(minutes=1)
    results = _at_once(3, lambda i: services.settle_now(cutoff=cutoff))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert SettlementJob.objects.count() == 1
    topups = Entry.objects.filter(kind=Kind.FLOOR_TOPUP)
    assert topups.count() == 2  # one per annotator, none twice
    assert Settlement.objects.count() == 2
    assert ledger.verify().ok


class _HeldAtSettlementRows(HeldLock):
    """Another connection holds the settlement table: the run writes its entries, then waits
    at its INSERT of the settlement rows, inside its transaction. There it is killed."""

    def __init__(self) -> None:
        super().__init__(
            "payments_settlement", "SHARE ROW EXCLUSIVE", 'INSERT INTO "payments_settlement"'
        )

    def visible_entries(self) -> int:
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM payments_entry WHERE reference LIKE 'settle:%%'")
            return cursor.fetchone()[0]


def _settlement_entries(job_id: int) -> set[tuple]:
    return set(
        Entry.objects.filter(reference__startswith=f"settle:{job_id}:").values_list(
            "kind", "reference", "amount", "project_id", "annotator_id"
        )
    )


@pytest.mark.redis
def test_a_worker_killed_mid_settlement_then_a_rerun_leaves_the_same_ledger(tmp_path):
    import os
    import signal
    import uuid

    owner = user_factory("owner")
    project = project_factory(owner, tasks=6, publish=True)
    start = T0
    for _ in range(3):
        _assignment, start = _work(user_factory("annotator"), project, seconds=240, start=start)
    job = SettlementJob.objects.create(
        period_start=T0 - timedelta(days=1), period_end=start + timedelta(minutes=1)
    )
    # What an uninterrupted run writes, computed here and rolled back.
    with transaction.atomic():
        services.settle_period(job=job)
        expected = _settlement_entries(job.pk)
        transaction.set_rollback(True)
    assert expected and not Entry.objects.filter(reference__startswith="settle:").exists()

    queue = f"test-settle-{uuid.uuid4().hex[:8]}"
    env = _env(queue, os.environ["REDIS_URL"])
    with _queue_dropped_after(queue), _HeldAtSettlementRows() as held, _beat(env, tmp_path):
        with _worker(queue, env, tmp_path / "worker-1.log") as worker:
            _until(held.waiting, 90, "the settlement to reach its rows", tmp_path)
            assert held.visible_entries() == 0  # written, not committed
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            held.release()
        with _worker(queue, env, tmp_path / "worker-2.log"):
            _until(
                lambda: SettlementJob.objects.get(pk=job.pk).status == "done",
                90,
                "the settlement to run again and finish",
                tmp_path,
            )
    assert _settlement_entries(job.pk) == expected
    assert Settlement.objects.filter(job=job).count() == 3
    assert ledger.verify().ok
