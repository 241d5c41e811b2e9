"""Ledger checkpoints: a report rehashes only the entries written since the last checkpoint,
still finds a break there, and the full verify finds one before it and moves the checkpoint back.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from payments import ledger
from payments.models import Entry, LedgerCheckpoint
from payments.services import project_fund
from tests.factories import project_factory
from tests.payments.test_pay import T0

pytestmark = pytest.mark.django_db
CONTROL = ledger.CHAIN_CONTROL


@contextmanager
def tampering():
    """What an attacker with the database owner's rights could do: drop the guard and edit; all
    rolled back at the end."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER payments_entry_no_update")
        yield cursor
        transaction.set_rollback(True)


def _control(seq: int) -> Entry:
    return Entry.objects.get(chain=CONTROL, seq=seq)


def _fund(owner, times: int) -> None:
    for _ in range(times):
        project_fund(project=project_factory(owner, fund=False), amount="10.00")


def _points() -> dict[int, tuple[int, str, object, bool]]:
    return {p.chain: (p.seq, p.hash, p.verified_at, p.full) for p in LedgerCheckpoint.objects.all()}


def test_advancing_checkpoints_is_idempotent_and_a_report_then_rehashes_only_the_new(owner):
    _fund(owner, 3)
    first = ledger.checkpoints_advance(now=T0)
    assert first.ok and first.entries == 3 and first.started == {}
    assert _points() == {CONTROL: (3, _control(3).hash, T0, False)}
    # Nothing new: nothing rehashed, nothing changes (not even the time it was verified).
    again = ledger.checkpoints_advance(now=T0 + timedelta(hours=1))
    assert again.ok and again.entries == 0
    assert _points() == {CONTROL: (3, _control(3).hash, T0, False)}
    _fund(owner, 2)
    since = ledger.verify_since_checkpoints()
    assert since.ok and since.entries == 2 and since.started == {CONTROL: (3, _control(3).hash)}
    assert since.verified[CONTROL] == (5, _control(5).hash)
    # The same head as the full check, which rehashes all five.
    full = ledger.verify()
    assert full.ok and full.entries == 5 and full.head == since.head
    assert since.report_dict() == {
        "ok": True,
        "full": False,
        "entries_checked": 2,
        "checked_from": {str(CONTROL): 3},
        "verified_through": {str(CONTROL): 5},
        "checkpoint_verified_at": T0.isoformat(),
        "problems": [],
    }
    ledger.checkpoints_advance(now=T0 + timedelta(hours=2))
    ledger.checkpoints_advance(now=T0 + timedelta(hours=3))
    assert _points() == {CONTROL: (5, _control(5).hash, T0 + timedelta(hours=2), False)}


def test_a_tampered_entry_after_the_checkpoint_is_found_and_not_checkpointed(owner):
    _fund(owner, 2)
    ledger.checkpoints_advance(now=T0)
    _fund(owner, 2)
    with tampering() as cursor:
        cursor.execute(
            "UPDATE payments_entry SET reference = 'forged' WHERE id = %s", [_control(3).pk]
        )
        result = ledger.verify_since_checkpoints()
        advanced = ledger.checkpoints_advance(now=T0 + timedelta(hours=1))
        point = _points()[CONTROL]
    assert not result.ok and result.entries == 2 and CONTROL in result.broken
    assert any(f"entry {_control(3).pk}: its hash" in p for p in result.problems)
    assert not advanced.ok and point[:2] == (2, _control(2).hash)


def test_a_tampered_entry_before_the_checkpoint_is_found_by_the_full_verify(owner):
    _fund(owner, 4)
    ledger.checkpoints_advance(now=T0, full=True)
    assert _points()[CONTROL][:2] == (4, _control(4).hash)
    with tampering() as cursor:
        # A field no balance depends on: only rehashing entry 2 shows it.
        cursor.execute(
            "UPDATE payments_entry SET reference = 'forged' WHERE id = %s", [_control(2).pk]
        )
        before = ledger.verify_since_checkpoints()
        full = ledger.checkpoints_advance(now=T0 + timedelta(hours=1), full=True)
        point = _points()[CONTROL]
        after = ledger.verify_since_checkpoints()
        # Run again: the incremental check cannot move the checkpoint past the break.
        ledger.checkpoints_advance(now=T0 + timedelta(hours=2))
        still = _points()[CONTROL]
    # The incremental check does not rehash what the checkpoint vouches for ...
    assert before.ok and before.entries == 0
    # ... the full one does, and moves the checkpoint back before the break,
    assert not full.ok and any(f"entry {_control(2).pk}: its hash" in p for p in full.problems)
    assert point == (1, _control(1).hash, T0 + timedelta(hours=1), True)
    # so that every check (and report) after it rehashes the broken entry again.
    assert not after.ok and after.entries == 3
    assert any(f"entry {_control(2).pk}: its hash" in p for p in after.problems)
    assert still == point


def test_the_incremental_check_finds_the_checkpoint_entry_changed_or_an_entry_removed(owner):
    _fund(owner, 3)
    ledger.checkpoints_advance(now=T0)
    with tampering() as cursor:
        cursor.execute(
            "UPDATE payments_entry SET reference = 'forged' WHERE id = %s", [_control(3).pk]
        )
        changed = ledger.verify_since_checkpoints()
    assert not changed.ok and changed.entries == 0
    assert any(f"entry {_control(3).pk}: its hash" in p for p in changed.problems)
    with tampering() as cursor:
        removed_pk = _control(1).pk
        cursor.execute("DELETE FROM payments_entry WHERE id = %s", [removed_pk])
        removed = ledger.verify_since_checkpoints()
    assert not removed.ok
    assert f"chain {CONTROL}: 2 entries up to checkpoint 3" in removed.problems


def test_verify_ledger_checks_everything_and_sets_the_checkpoints(owner, capsys, settings):
    _fund(owner, 2)
    call_command("verify_ledger")
    assert "2 entries" in capsys.readouterr().out
    assert _points()[CONTROL][:2] == (2, _control(2).hash) and _points()[CONTROL][3] is True
    _fund(owner, 1)
    call_command("verify_ledger", "--since-checkpoints")
    assert "1 entries" in capsys.readouterr().out
    assert _points()[CONTROL][:2] == (3, _control(3).hash)
    # The beat job runs the same, and a second delivery changes nothing.
    from payments.tasks import ledger_checkpoint

    before = _points()
    assert ledger_checkpoint(full=False) is True
    assert _points() == before
    beat = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == ledger_checkpoint.name
    ]
    assert sorted(e.get("kwargs", {}).get("full", False) for e in beat) == [False, True]


# --- in the auditors' report ----------------------------------------------------------------


def _without_ledger(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "ledger"}


def test_a_report_gives_the_same_figures_twice_and_says_what_it_rehashed(auditor, owner):
    from tests.payments.test_reports import _run, _world

    _project, _slow, _fast, end = _world()
    period = (T0 - timedelta(days=1), end + timedelta(hours=1))
    written = Entry.objects.count()
    cold = _run(auditor, *period)  # no checkpoint yet: every entry is rehashed
    assert cold.summary["ledger_ok"] is True
    assert cold.summary["ledger"]["entries_checked"] == written
    assert cold.summary["ledger"]["checked_from"] == {}
    ledger.checkpoints_advance(now=end)
    _fund(owner, 2)  # now, outside the period: the figures must not move
    first = _run(auditor, *period)
    ledger.checkpoints_advance(now=end + timedelta(minutes=10))
    second = _run(auditor, *period)
    assert _without_ledger(first.summary) == _without_ledger(second.summary)
    assert _without_ledger(first.summary) == _without_ledger(cold.summary)
    assert first.csv == second.csv == cold.csv and first.details == second.details
    assert first.summary["ledger"]["entries_checked"] == 2
    assert second.summary["ledger"]["entries_checked"] == 0
    control_entries = Entry.objects.filter(chain=CONTROL).count()
    assert second.summary["ledger"]["verified_through"][str(CONTROL)] == control_entries
    assert first.ledger_head == second.ledger_head and second.summary["ledger_ok"] is True


def test_a_report_after_the_full_verify_found_a_break_says_the_ledger_is_not_ok(auditor, owner):
    from tests.payments.test_reports import _run, _world

    _project, _slow, _fast, end = _world()
    ledger.checkpoints_advance(now=end, full=True)
    with tampering() as cursor:
        cursor.execute(
            "UPDATE payments_entry SET reference = 'forged' WHERE id = %s", [_control(1).pk]
        )
        ledger.checkpoints_advance(now=end + timedelta(hours=1), full=True)
        job = _run(auditor, T0 - timedelta(days=1), end + timedelta(hours=1))
        summary = job.summary
    assert summary["ledger_ok"] is False and summary["ledger"]["ok"] is False
    assert summary["violations"][0]["rule"] == "ledger"
    assert "its hash does not match" in summary["violations"][0]["evidence"]


def test_the_report_counts_breaks_days_and_caps_in_sql_as_it_did_row_by_row(auditor):
    """The working-time part, whose queries were rewritten for scale: breaks due and taken, one
    cut short, a day over the daily limit and one over the sensitive cap, hours per day."""
    from tests.payments.test_reports import _run, _world
    from workers.models import Break, WorkDay

    _project, slow, fast, end = _world()
    day = T0.date()

    def brk(who, minutes, *, kind="due", ended=None):
        at = T0 + timedelta(minutes=minutes)
        Break.objects.create(
            annotator=who,
            kind=kind,
            started_at=at,
            ends_at=at + timedelta(minutes=10),
            ended_at=None if ended is None else at + timedelta(minutes=ended),
            paid_seconds=600,
        )

    brk(slow, 20)  # taken, not ended early
    brk(slow, 35, ended=10)  # ended exactly at its end: taken
    brk(fast, 20, ended=4)  # cut short
    brk(fast, 40, kind="voluntary", ended=2)  # not a due break: neither counted nor a violation
    WorkDay.objects.filter(annotator__in=[slow, fast]).delete()
    for who, active, sensitive in ((slow, 9 * 3600, 0), (fast, 3600, 5 * 3600)):
        WorkDay.objects.create(
            annotator=who,
            day=day,
            active_seconds=active,
            instruction_seconds=0,
            sensitive_seconds=sensitive,
            category_seconds={"violence": sensitive} if sensitive else {},
            first_at=T0,
            last_at=T0 + timedelta(hours=9),
        )
    period = (T0 - timedelta(days=1), end + timedelta(hours=1))
    job = _run(auditor, *period)
    s = job.summary
    assert (s["breaks_due"], s["breaks_taken"]) == (3, 2)
    rules = [(v["rule"], v["pseudonym"]) for v in s["violations"]]
    assert rules == [
        ("daily-limit", slow.profile.pseudonym),
        ("sensitive-cap", fast.profile.pseudonym),
        ("breaks", fast.profile.pseudonym),
    ]
    assert "ended early" in s["violations"][2]["evidence"]
    assert s["sensitive_hours"] == {"violence": "5.00"}
    assert {
        (d["pseudonym"], d["hours"], d["sensitive_hours"]) for d in job.details["hours_per_day"]
    } == {
        (slow.profile.pseudonym, "9.00", "0.00"),
        (fast.profile.pseudonym, "1.00", "5.00"),
    }
    again = _run(auditor, *period)
    assert again.summary == s and again.details == job.details and again.csv == job.csv
