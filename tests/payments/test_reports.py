"""Auditors' reports: the figures come from the settlements, a planted violation comes first,
and the same period gives the same figures."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from payments import services
from payments.models import Settlement, SettlementJob
from payments.reports import report_create, report_job_run
from tests.factories import project_factory, user_factory
from tests.payments.test_pay import T0, _work

pytestmark = pytest.mark.django_db


def _world():
    owner = user_factory("owner")
    project = project_factory(owner, tasks=4, publish=True)
    start = T0
    slow, fast = user_factory("annotator"), user_factory("annotator")
    _a, start = _work(slow, project, seconds=600, start=start)
    _a, start = _work(fast, project, seconds=20, start=start)
    services.settle_now(cutoff=start + timedelta(minutes=1))
    return project, slow, fast, start


def plant_underpaid(project, annotator, at):
    """What the rules never write: a settled hour paid 0.10, no top-up."""
    job = SettlementJob.objects.create(
        period_start=at, period_end=at + timedelta(hours=1), status="done"
    )
    Settlement.objects.create(
        job=job,
        annotator=annotator,
        project=project,
        active_seconds=Decimal("3600"),
        floor_hourly=Decimal("12.00"),
        piece_pay=Decimal("0.10"),
    )


def _run(auditor, start, end, project=None):
    job = report_create(user=auditor, start=start, end=end, project=project)
    return report_job_run(job_id=job.pk)


def test_a_report_summarises_the_settled_period_by_pseudonym(auditor):
    _project, slow, fast, end = _world()
    job = _run(auditor, T0 - timedelta(days=1), end + timedelta(hours=1))
    s = job.summary
    assert job.status == "done" and s["annotators"] == 2
    assert s["below_floor_after_topup"] == 0 and s["violations"] == []
    assert Decimal(s["effective_hourly_min"]) >= Decimal("12.00")
    assert Decimal(s["effective_hourly_before_topup_median"]) < Decimal(
        s["effective_hourly_median"]
    )
    assert Decimal(s["topups_total"]) > 0 and s["ledger_ok"] is True
    rows = list(csv.DictReader(io.StringIO(job.csv)))
    assert len(rows) == 2 and all(r["meets_floor"] == "true" for r in rows)
    # The ledger's movements (piece pay when submitted, top-ups when settled, after the work)
    # match what the settlements paid: the settlement's entries count with their period.
    assert Decimal(s["paid_to_annotators"]) == sum(Decimal(r["paid"]) for r in rows)
    assert s["owners_spent"] == s["paid_to_annotators"] and s["labor_share"] == "1.00"
    # Also when the report ends where the settled period ends (its entries are dated there).
    to_cutoff = _run(auditor, T0 - timedelta(days=1), end + timedelta(minutes=1)).summary
    assert to_cutoff["paid_to_annotators"] == s["paid_to_annotators"]
    assert slow.username not in job.csv and fast.username not in job.csv
    assert len(job.ledger_head) == 64 and job.ledger_last_entry
    # Reproducible: the same period gives the same figures.
    again = _run(auditor, T0 - timedelta(days=1), end + timedelta(hours=1))
    assert again.summary == s and again.csv == job.csv


def test_a_planted_violation_comes_first_with_its_evidence(auditor):
    project, slow, _fast, end = _world()
    plant_underpaid(project, slow, end + timedelta(minutes=5))
    job = _run(auditor, T0 - timedelta(days=1), end + timedelta(hours=3))
    assert job.summary["below_floor_after_topup"] == 1
    (violation,) = job.summary["violations"]
    assert violation["rule"] == "fair-pay-floor"
    assert violation["pseudonym"] == slow.profile.pseudonym
    assert "owes" in violation["evidence"]


def test_the_report_api_runs_a_job_and_gives_its_links(
    auditor, client_for, django_capture_on_commit_callbacks
):
    _project, _slow, _fast, end = _world()
    api = client_for(auditor)
    bad = api.post(
        "/api/reports/", {"start": end.isoformat(), "end": T0.isoformat()}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_period"
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/reports/",
            {
                "start": (T0 - timedelta(days=1)).isoformat(),
                "end": (end + timedelta(hours=1)).isoformat(),
            },
            format="json",
        )
    assert created.status_code == 202
    body = api.get(f"/api/reports/{created.json()['id']}/").json()
    assert body["status"] == "done"  # CELERY_TASK_ALWAYS_EAGER in tests
    assert body["summary"]["annotators"] == 2 and body["csv_url"].endswith("/csv/")
    assert {"annotators", "paid_hours", "effective_hourly_median", "effective_hourly_min",
            "below_floor_after_topup", "topups_total", "breaks_due", "breaks_taken",
            "violations"} <= set(body["summary"])  # fmt: skip


def test_days_past_the_daily_weekly_and_sensitive_limits_are_violations(settings, auditor):
    """What the dispatcher never allows, planted in the daily roll-up: the report names it."""
    from workers.models import WorkDay

    settings.FAIRLABEL_WEEKLY_HOURS = Decimal("10")
    settings.FAIRLABEL_SENSITIVE_DAILY_HOURS = Decimal("4")
    worker, steady = user_factory("annotator"), user_factory("annotator")
    monday = T0.date() - timedelta(days=T0.weekday())
    for n, (who, hours, sensitive) in enumerate(
        [(worker, 6, 0), (worker, 6, 5), (steady, 5, 1), (steady, 4, 0)]
    ):
        day = monday + timedelta(days=n % 2)
        at = T0.replace(year=day.year, month=day.month, day=day.day)
        WorkDay.objects.create(
            annotator=who,
            day=day,
            active_seconds=Decimal(hours * 3600),
            sensitive_seconds=Decimal(sensitive * 3600),
            category_seconds={"violence": sensitive * 3600} if sensitive else {},
            first_at=at,
            last_at=at + timedelta(hours=hours),
        )
    job = _run(auditor, T0 - timedelta(days=8), T0 + timedelta(days=8))
    found = {(v["rule"], v["pseudonym"]) for v in job.summary["violations"]}
    name = worker.profile.pseudonym
    assert found == {("weekly-limit", name), ("sensitive-cap", name)}
    weekly = next(v for v in job.summary["violations"] if v["rule"] == "weekly-limit")
    assert "12.00 h over the weekly limit of 10 h" in weekly["evidence"]
    assert job.summary["sensitive_hours"] == {"violence": "6.00"}


def test_the_report_counts_the_messages_of_its_weeks_by_topic(auditor):
    project, slow, fast, end = _world()
    services.voice_message_send(
        annotator=slow, project_id=project.pk, topic="pay", text="Too fast a pace.", now=end
    )
    services.voice_message_send(
        annotator=fast, project_id=project.pk, topic="pay", text="Fine by me.", now=end
    )
    services.voice_message_send(
        annotator=fast,
        project_id=project.pk,
        topic="other",
        text="Next month.",
        now=end + timedelta(days=40),
    )
    summary = _run(auditor, T0 - timedelta(days=1), end + timedelta(days=1)).summary
    assert summary["messages"] == {"pay": 2} and summary["messages_total"] == 2


def test_a_project_report_counts_the_sensitive_time_of_that_project_only(auditor):
    from workers.models import WorkDay, WorkSession, WorkSpan

    owner = user_factory("owner")
    mine = project_factory(owner, tasks=1, publish=True, content_categories=["violence", "hate"])
    other = project_factory(owner, tasks=1, publish=True, content_categories=["hate"])
    worker = user_factory("annotator")
    session = WorkSession.objects.create(annotator=worker, started_at=T0)
    for project, categories, minutes in ((mine, ["violence"], 30), (other, ["hate"], 90)):
        WorkSpan.objects.create(
            annotator=worker,
            session=session,
            kind="task",
            project=project,
            started_at=T0,
            ended_at=T0 + timedelta(minutes=minutes),
            seconds=Decimal(minutes * 60),
            sensitive=True,
            categories=categories,
        )
    WorkDay.objects.create(
        annotator=worker,
        day=T0.date(),
        active_seconds=Decimal(7200),
        sensitive_seconds=Decimal(7200),
        category_seconds={"violence": 1800, "hate": 5400},
        first_at=T0,
        last_at=T0 + timedelta(hours=2),
    )
    period = (T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert _run(auditor, *period).summary["sensitive_hours"] == {"hate": "1.50", "violence": "0.50"}
    assert _run(auditor, *period, project=mine).summary["sensitive_hours"] == {"violence": "0.50"}


def _spans(worker, pieces):
    """Work spans from (start offset in minutes, length in minutes, sensitive) pieces."""
    from workers.models import WorkSession, WorkSpan

    session = WorkSession.objects.create(annotator=worker, started_at=T0)
    for offset, length, sensitive in pieces:
        began = T0 + timedelta(minutes=offset)
        WorkSpan.objects.create(
            annotator=worker,
            session=session,
            kind="task",
            started_at=began,
            ended_at=began + timedelta(minutes=length),
            seconds=Decimal(length * 60),
            sensitive=sensitive,
            categories=["violence"] if sensitive else [],
        )


def test_a_stretch_without_a_break_is_a_break_not_given(auditor):
    """Planted work spans (the dispatcher never lets this happen): 30 + 30 minutes with a
    3-minute pause is one stretch past the 50 minutes after which a break is due; a pause as
    long as a break, or a break, ends a stretch; sensitive work has the shorter limit."""
    from workers.models import Break

    tired, rested, paused, sensitive = (user_factory("annotator") for _ in range(4))
    _spans(tired, [(0, 30, False), (33, 30, False)])
    _spans(rested, [(0, 45, False), (57, 45, False)])
    Break.objects.create(
        annotator=rested,
        kind=Break.Kind.DUE,
        started_at=T0 + timedelta(minutes=45),
        ends_at=T0 + timedelta(minutes=55),
    )
    _spans(paused, [(0, 40, False), (52, 40, False)])
    _spans(sensitive, [(0, 25, True), (26, 24, True)])  # 49 min, past the 45 of sensitive work
    job = _run(auditor, T0 - timedelta(days=1), T0 + timedelta(days=1))
    found = {(v["pseudonym"], v["evidence"]) for v in job.summary["violations"]}
    assert found == {
        (tired.profile.pseudonym, f"worked 60 min without a break from {T0:%Y-%m-%d %H:%M} UTC "
         "(a break is due after 50 min)"),
        (sensitive.profile.pseudonym, f"worked 49 min without a break from "
         f"{T0:%Y-%m-%d %H:%M} UTC (a break is due after 45 min)"),
    }  # fmt: skip


def test_real_work_with_its_breaks_given_shows_no_break_violation(auditor, settings):
    """An hour and a half of work through the dispatcher and heartbeats: the due break comes at
    50 minutes and is taken; the report finds no break not given."""
    from labeling import dispatch
    from labeling.policies import Refused
    from workers.models import Break
    from workers.services import heartbeat_record

    owner, worker = user_factory("owner"), user_factory("annotator")
    project = project_factory(owner, tasks=200, publish=True)
    t, step = T0, timedelta(seconds=30)
    for _ in range(160):
        try:
            held = dispatch.assignment_next(annotator=worker, project=project, now=t)
        except Refused as refused:
            t = refused.refusal.until
            continue
        t += step
        heartbeat_record(annotator=worker, now=t, assignment_id=held.pk)
        t += step
        heartbeat_record(annotator=worker, now=t, assignment_id=held.pk)
        dispatch.annotation_submit(
            annotator=worker, assignment_id=held.pk, result={"label": "pos"}, now=t
        )
    assert Break.objects.filter(annotator=worker, kind="due").exists()
    job = _run(auditor, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [v for v in job.summary["violations"] if v["rule"] == "breaks"] == []


def test_the_days_csv_holds_every_pseudonym_day_with_its_limits(auditor, client, settings):
    """The page charts the longest days; the days CSV holds them all, flagged against the
    limits, by pseudonym only."""
    from workers.models import WorkDay

    settings.FAIRLABEL_DAILY_HOURS = Decimal("8")
    workers = [user_factory("annotator") for _ in range(45)]  # more than the chart shows
    for n, worker in enumerate(workers):
        WorkDay.objects.create(
            annotator=worker,
            day=T0.date(),
            active_seconds=Decimal(3600 * (9 if n == 0 else 2)),
            tasks_done=n,
            first_at=T0,
            last_at=T0 + timedelta(hours=2),
        )
    job = _run(auditor, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert len(job.details["hours_per_day"]) == 40 and job.details["hours_per_day_of"] == 45
    client.force_login(auditor)
    response = client.get(f"/audit/reports/{job.pk}/days.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 45
    first = next(r for r in rows if r["pseudonym"] == workers[0].profile.pseudonym)
    assert (first["worked_hours"], first["over_daily_limit"]) == ("9.00", "true")
    assert {r["over_daily_limit"] for r in rows if r is not first} == {"false"}
    assert all(w.username not in text for w in workers)
