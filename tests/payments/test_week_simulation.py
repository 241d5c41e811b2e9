"""Days of work (two in the suite; FAIRLABEL_SIM_DAYS=7 for a whole week) by annotators who
behave differently (the labeling page's heartbeats, an API client that never beats, a slow
reader, a skipper, one who takes breaks of its own, sensitive work under consent), through the
services with the clock moved forward, settled every night. The auditors' report over them must
find no violation, the ledger must verify, and every annotator's work record must be confirmed
by it."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta

import pytest

from labeling import dispatch
from labeling.policies import Refused
from payments import services
from payments.reports import report_create, report_job_run
from payments.work_record import work_record_of, work_record_verify
from tests.factories import project_factory, user_factory
from workers import services as time_services

pytestmark = pytest.mark.django_db

MONDAY = datetime(2031, 3, 3, tzinfo=UTC)
STYLES = ("page", "api", "slow", "skipper", "rester", "sensitive")
DAYS = int(os.environ.get("FAIRLABEL_SIM_DAYS", "2"))  # the suite's share; 7: a whole week


def _session(worker, style, project, start, minutes, rng):
    """One sitting of `minutes`; returns when it ended. Refusals are waited out (a break) or
    end the sitting (a limit)."""
    t, end = start, start + timedelta(minutes=minutes)
    while t < end:
        try:
            held = dispatch.assignment_next(annotator=worker, project=project, now=t)
        except Refused as refused:
            until = refused.refusal.until
            if refused.refusal.code != "break" or until is None or until > end:
                return t
            t = until
            continue
        if held is None:
            return t
        if style == "rester" and rng.random() < 0.05:
            time_services.break_take(annotator=worker, now=t)
            t += timedelta(minutes=rng.choice([3, 10]))
            continue
        length = {"slow": 180, "api": 20}.get(style, rng.randint(30, 75))
        beats = [] if style == "api" else list(range(30, length, 30))
        for offset in beats:
            time_services.heartbeat_record(
                annotator=worker, now=t + timedelta(seconds=offset), assignment_id=held.pk
            )
        t += timedelta(seconds=length)
        if style == "skipper" and rng.random() < 0.3:
            dispatch.assignment_skip(annotator=worker, assignment_id=held.pk, now=t)
        else:
            dispatch.annotation_submit(
                annotator=worker, assignment_id=held.pk, result={"label": "pos"}, now=t
            )
    return t


def test_a_week_of_mixed_work_is_reported_clean_and_every_record_verifies(auditor):
    rng = random.Random(7)
    owner = user_factory("owner")
    plain = project_factory(owner, tasks=3000, publish=True, fund="5000.00")
    sensitive = project_factory(
        owner, tasks=800, publish=True, fund="5000.00", content_categories=["violence"]
    )
    workers = {style: user_factory("annotator") for style in STYLES}
    time_services.consent_set(
        annotator=workers["sensitive"], project=sensitive, categories=["violence"], now=MONDAY
    )
    for day in range(DAYS):
        morning = MONDAY + timedelta(days=day, hours=7)
        for style, worker in workers.items():
            project = sensitive if style == "sensitive" else plain
            t = morning + timedelta(minutes=rng.randint(0, 60))
            for _sitting in range(rng.randint(1, 2)):
                t = _session(worker, style, project, t, rng.randint(45, 100), rng)
                t += timedelta(minutes=rng.randint(4, 40))
        time_services.work_sessions_close(now=MONDAY + timedelta(days=day, hours=23))
        services.settle_now(cutoff=MONDAY + timedelta(days=day + 1))
    time_services.work_days_rebuild(
        annotator_ids=[w.pk for w in workers.values()],
        first=MONDAY.date(),
        last=(MONDAY + timedelta(days=6)).date(),
    )
    job = report_create(user=auditor, start=MONDAY, end=MONDAY + timedelta(days=7))
    summary = report_job_run(job_id=job.pk).summary
    assert summary["violations"] == [], summary["violations"][:5]
    assert summary["annotators"] == len(STYLES) and summary["ledger_ok"] is True
    assert summary["below_floor_after_topup"] == 0
    assert summary["breaks_due"] > 0 and summary["breaks_taken"] == summary["breaks_due"]
    assert summary["sensitive_hours"].get("violence")
    for worker in workers.values():
        verdict = work_record_verify(document=work_record_of(annotator=worker))
        assert verdict["ok"], verdict["problems"]
