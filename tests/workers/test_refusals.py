"""Every refusal of `next` is counted, per annotator, project, rule and local day, and the
auditors' report shows how often hours limits and exposure caps held."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from payments.reports import report_create, report_job_run
from tests.factories import project_factory
from tests.workers.test_working_time import T0, refused_at, s, work
from workers.models import RefusalDay

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(owner):
    return project_factory(owner, tasks=300, publish=True)


def test_refusals_are_counted_per_rule_and_day_and_reach_the_report(
    settings, annotator, project, auditor
):
    settings.FAIRLABEL_DAILY_HOURS = Decimal("1")
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("1000")
    last = work(annotator, project, T0, 60)
    for i in range(3):  # a client asking again and again
        assert refused_at(annotator, project, last + s(10 + i)).code == "daily_limit"
    row = RefusalDay.objects.get()
    assert (row.code, row.count, row.day) == ("daily_limit", 3, T0.date())
    assert (row.first_at, row.last_at) == (last + s(10), last + s(12))
    # Another project, the same rule: a row of its own.
    elsewhere = project_factory(project.owner, tasks=3, publish=True)
    assert refused_at(annotator, elsewhere, last + s(20)).code == "daily_limit"
    assert RefusalDay.objects.count() == 2

    job = report_create(user=auditor, start=T0 - timedelta(days=1), end=T0 + timedelta(days=2))
    summary = report_job_run(job_id=job.pk).summary
    codes = summary["refusals"]
    assert codes == {"daily_limit": {"requests": 4, "annotators": 1, "annotator_days": 2}}
    assert summary["hours_limit_refusals"] == 4
    assert summary["exposure_cap_refusals"] == 0
    # Scoped to one project: its refusals only.
    job = report_create(
        user=auditor, start=T0 - timedelta(days=1), end=T0 + timedelta(days=2), project=elsewhere
    )
    scoped = report_job_run(job_id=job.pk).summary["refusals"]
    assert scoped == {"daily_limit": {"requests": 1, "annotators": 1, "annotator_days": 1}}
