"""The dispatcher where it matters: PostgreSQL row locks under 32 concurrent annotators, query
plans on a large project, and the expiry beat job run by a real Celery worker on Redis."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from labeling import dispatch
from labeling.models import Annotation, Assignment, Task
from labeling.policies import Restriction
from tests.factories import project_factory
from tests.processes import celery_worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _cycle_until_done(client, project_id: int, outcome: dict, deadline: float) -> None:
    """One annotator: next, submit, until 204 (bounded in count and time)."""
    from django.db import connection as thread_connection

    try:
        for _ in range(1000):
            if time.monotonic() > deadline:
                outcome["timeout"] = True
                return
            response = client.post(f"/api/projects/{project_id}/next/")
            if response.status_code == 204:
                return
            assert response.status_code == 200, response.content
            body = response.json()
            outcome["served"].append(body["task"]["id"])
            submit = client.post(
                f"/api/assignments/{body['assignment']}/submit/",
                {"result": {"label": "pos"}},
                format="json",
            )
            outcome["statuses"].append(submit.status_code)
    except Exception as exc:  # reported by the main thread
        outcome["error"] = repr(exc)
    finally:
        thread_connection.close()


def test_32_annotators_at_once_fill_every_task_exactly_to_its_overlap(owner, make_user, client_for):
    project = project_factory(owner, tasks=150, publish=True, annotations_per_task=3)
    clients = [client_for(make_user("annotator")) for _ in range(32)]
    outcomes = [{"served": [], "statuses": []} for _ in clients]
    deadline = time.monotonic() + 60
    threads = [
        threading.Thread(target=_cycle_until_done, args=(c, project.pk, o, deadline))
        for c, o in zip(clients, outcomes, strict=True)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    elapsed = time.monotonic() - started
    assert not any(t.is_alive() for t in threads)
    assert [o for o in outcomes if "error" in o or "timeout" in o] == []

    created = sum(o["statuses"].count(201) for o in outcomes)
    assert all(code == 201 for o in outcomes for code in o["statuses"])
    for outcome in outcomes:  # no annotator got a task twice
        assert len(outcome["served"]) == len(set(outcome["served"]))
    assert created == Annotation.objects.count() == 450  # no submission lost
    assert not Annotation.objects.filter(is_extra=True).exists()
    per_task = Counter(Annotation.objects.values_list("task_id", flat=True))
    assert set(per_task.values()) == {3} and len(per_task) == 150
    pairs = Counter(Annotation.objects.values_list("task_id", "annotator_id"))
    assert max(pairs.values()) == 1
    assert set(Task.objects.values_list("slots_free", "annotation_count")) == {(0, 3)}
    assert not Assignment.objects.filter(status=Assignment.Status.OPEN).exists()
    assert elapsed < 45, f"took {elapsed:.1f}s"


def _load_tasks(project, count: int, *, slots: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO labeling_task (project_id, data, category_mask, slots_free, "
            "annotation_count, created_at) SELECT %s, jsonb_build_object('text', 'task ' || g), "
            "0, %s, 0, now() FROM generate_series(1, %s) AS g",
            [project.pk, slots, count],
        )
        cursor.execute("ANALYZE labeling_task")
        cursor.execute("ANALYZE labeling_assignment")


def _statements(annotator, project, restriction) -> list:
    """The SQL the claim runs (compiled inside a transaction, as the dispatcher does)."""
    with transaction.atomic():
        return list(
            dispatch.claim_statements(
                annotator_id=annotator.pk, project=project, restriction=restriction
            )
        )


def _plan(sql: str, params: list, *, analyze: bool = False) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {'(ANALYZE, BUFFERS) ' if analyze else ''}{sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_every_claim_query_walks_the_partial_index_on_a_large_project(owner, annotator):
    project = project_factory(owner, tasks=1, publish=True, annotations_per_task=3)
    _load_tasks(project, 20_000, slots=3)
    restrictions = (
        (Restriction(), "task_dispatch_idx"),
        (Restriction(safe_only=True), "task_dispatch_mask_idx"),
        (Restriction(excluded_categories=frozenset({"gore", "hate"})), "task_dispatch_mask_idx"),
    )
    for restriction, index in restrictions:
        statements = _statements(annotator, project, restriction)
        assert len(statements) == 3
        for sql, params in statements:
            plan = _plan(sql, params)
            assert index in plan, plan
            assert "Seq Scan on labeling_task" not in plan, plan
            # The index gives the order (a restricted claim sorts only the first task of each
            # set of categories it may take).
            assert "Sort" not in plan or "Function Scan on unnest" in plan, plan


def test_a_fast_annotator_is_not_slowed_by_the_tasks_it_already_did(owner, annotator):
    """Overlap 3, one annotator alone: everything it did keeps free slots and sorts first.
    The claim must not walk past those rows (the plain anti-join walk did, every call)."""
    project = project_factory(owner, tasks=1, publish=True, annotations_per_task=3)
    _load_tasks(project, 5_000, slots=3)
    for _ in range(dispatch.HEAD_WINDOW * 3):
        assignment = dispatch.assignment_next(annotator=annotator, project=project)
        dispatch.annotation_submit(
            annotator=annotator, assignment_id=assignment.pk, result={"label": "pos"}
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labeling_task")
        cursor.execute("ANALYZE labeling_assignment")
    head, fresh, _rest = dispatch.claim_querysets(annotator=annotator, project=project)
    with transaction.atomic():
        assert head.first() is None  # the head holds only its own work: the walk stops there
        head_plan = head[:1].explain(analyze=True)
        fresh_plan = fresh[:1].explain(analyze=True)
    walks = [line for line in head_plan.splitlines() if "task_dispatch_idx" in line]
    assert all("rows=128 " in line for line in walks), head_plan
    walk = next(line for line in fresh_plan.splitlines() if "task_dispatch_idx" in line)
    assert "rows=1 " in walk, fresh_plan  # ...and the walk of untouched tasks stops at once


@pytest.mark.redis
@pytest.mark.filterwarnings(
    "ignore::celery.exceptions.AlwaysEagerIgnored", "ignore:Results are not stored:RuntimeWarning"
)
def test_a_real_worker_runs_the_expiry_job_and_the_slot_returns(owner, make_user, tmp_path):
    from fairlabel.celery import app

    project = project_factory(owner, tasks=1, publish=True)
    gone, waiting = make_user("annotator"), make_user("annotator")
    abandoned = dispatch.assignment_next(
        annotator=gone, project=project, now=timezone.now() - timedelta(minutes=11)
    )
    assert dispatch.assignment_next(annotator=waiting, project=project) is None

    db = connection.settings_dict
    url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    with celery_worker(
        DATABASE_URL=url, REDIS_URL=os.environ["REDIS_URL"], FAIRLABEL_VAR_DIR=str(tmp_path)
    ) as queue:
        result = app.send_task("labeling.expire_assignments", queue=queue)
        assert result.get(timeout=60) == 1
        again = app.send_task("labeling.expire_assignments", queue=queue)
        assert again.get(timeout=60) == 0  # idempotent
    abandoned.refresh_from_db()
    assert abandoned.status == Assignment.Status.EXPIRED
    assert Task.objects.get().slots_free == 1
    served = dispatch.assignment_next(annotator=waiting, project=project)
    assert served.task_id == abandoned.task_id


def test_a_safe_only_claim_walks_the_safe_tasks_of_a_mostly_sensitive_project(owner, annotator):
    """99% of 20,000 tasks are sensitive; an annotator with no sensitive work left today may
    take only the other 1%: its claim walks the safe part of task_dispatch_mask_idx and meets
    safe tasks only."""
    project = project_factory(owner, tasks=1, publish=True, content_categories=["gore"])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO labeling_task (project_id, data, category_mask, slots_free, "
            "annotation_count, created_at) SELECT %s, jsonb_build_object('text', 'task ' || g), "
            "CASE WHEN g %% 100 = 0 THEN 0 ELSE 2 END, 1, 0, now() "
            "FROM generate_series(1, 20000) AS g",
            [project.pk],
        )
        cursor.execute("ANALYZE labeling_task")
    for sql, params in _statements(annotator, project, Restriction(safe_only=True)):
        plan = _plan(sql, params, analyze=True)
        assert "task_dispatch_mask_idx" in plan, plan
        assert "Seq Scan on labeling_task" not in plan, plan
        assert "Rows Removed by Filter" not in plan, plan  # never walks past sensitive tasks
    with transaction.atomic():
        served = dispatch.claim_querysets(
            annotator=annotator, project=project, restriction=Restriction(safe_only=True)
        )[0].first()
    assert served is not None and not served.is_sensitive


def test_a_partly_consenting_annotator_is_served_at_flat_cost(owner, annotator, settings):
    """A project of 20,000 tasks declaring violence and gore; 99% carry gore. An annotator who
    consented to violence only may take the other 1% (violence alone, or safe). Its claim walks
    task_dispatch_mask_idx once per set of categories it may take and never reads a gore task,
    even once the tasks it may take that sort first are gone."""
    from labeling.categories import mask_of
    from workers.services import consent_set

    settings.FAIRLABEL_DISPATCH_GATES = [
        "labeling.policies.project_open_gate",
        "workers.policies.exposure_gate",
    ]
    settings.FAIRLABEL_ASSIGNMENT_HOOKS = []
    project = project_factory(owner, tasks=1, publish=True, content_categories=["violence", "gore"])
    violence, gore = mask_of(["violence"]), mask_of(["gore"])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO labeling_task (project_id, data, category_mask, slots_free, "
            "annotation_count, created_at) SELECT %s, jsonb_build_object('text', 'task ' || g), "
            "CASE WHEN g %% 200 = 0 THEN 0 WHEN g %% 200 = 100 THEN %s "
            "WHEN g %% 2 = 0 THEN %s ELSE %s END, 1, 0, now() "
            "FROM generate_series(1, 20000) AS g",
            [project.pk, violence, gore, gore | violence],
        )
        cursor.execute("ANALYZE labeling_task")
    consent_set(annotator=annotator, project=project, categories=["violence"])
    restriction = Restriction(
        excluded_categories=frozenset(
            {"gore", "sexual", "self_harm", "hate", "child_safety", "other_disturbing"}
        )
    )
    served = []
    for _ in range(150):  # past the first head window of each set
        assignment = dispatch.assignment_next(annotator=annotator, project=project)
        served.append(assignment.task.category_mask)
        dispatch.annotation_submit(
            annotator=annotator, assignment_id=assignment.pk, result={"label": "pos"}
        )
    assert set(served) == {0, violence}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labeling_task")
        cursor.execute("ANALYZE labeling_assignment")
    for sql, params in _statements(annotator, project, restriction):
        plan = _plan(sql, params, analyze=True)
        assert "task_dispatch_mask_idx" in plan, plan
        assert "Seq Scan on labeling_task" not in plan, plan
        assert "Rows Removed by Filter" not in plan, plan  # never reads a task it may not take
    sql, params = _statements(annotator, project, restriction)[0]
    with transaction.atomic():
        task = next(iter(Task.objects.raw(sql, params)))
    assert task.category_mask in (0, violence)
