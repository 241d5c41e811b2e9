"""The labor-provenance record: breaks and exposure from planted working-time rows, the period,
the pay distribution against the floor, the policies with their sources, the ledger head."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from labeling.exporting import services
from labeling.models import Annotation, PolicyOverride
from payments import ledger
from payments.models import ChainHead
from payments.services import settle_now
from tests.factories import project_factory, user_factory
from tests.payments.test_pay import _work
from workers.models import Break, WorkDay, WorkSession, WorkSpan

pytestmark = pytest.mark.django_db

WORKED = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)  # real work through the dispatcher
T1 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # the planted working-time records
M = timedelta(minutes=1)


def _span(annotator, session, project, start, minutes, *, categories=()):
    return WorkSpan.objects.create(
        annotator=annotator,
        session=session,
        kind=WorkSpan.Kind.TASK,
        project=project,
        started_at=start,
        ended_at=start + minutes * M,
        seconds=Decimal(minutes * 60),
        sensitive=bool(categories),
        categories=list(categories),
    )


def _break(annotator, kind, start, minutes, *, paid, ended_after=None):
    return Break.objects.create(
        annotator=annotator,
        kind=kind,
        started_at=start,
        ends_at=start + minutes * M,
        ended_at=None if ended_after is None else start + ended_after * M,
        paid_seconds=Decimal(paid),
    )


@pytest.fixture
def world(settings):
    settings.FAIRLABEL_FLOOR_HOURLY = Decimal("12.00")
    settings.FAIRLABEL_SENSITIVE_DAILY_HOURS = Decimal("4")
    settings.FAIRLABEL_CATEGORY_DAILY_HOURS = ["gore=0.1"]
    owner = user_factory("owner")
    project = project_factory(owner, tasks=4, publish=True)
    other = project_factory(owner, tasks=1, publish=True)
    a, b = user_factory("annotator"), user_factory("annotator")
    # Real work: two annotations each (A slowly, B fast), settled with floor top-ups.
    start = WORKED
    for annotator, seconds in ((a, 300), (a, 300), (b, 20), (b, 20)):
        _assignment, start = _work(annotator, project, seconds=seconds, start=start)
    settle_now(cutoff=start + M)

    session_a = WorkSession.objects.create(annotator=a, started_at=T1, ended_at=T1 + 300 * M)
    session_b = WorkSession.objects.create(annotator=b, started_at=T1, ended_at=T1 + 500 * M)
    # A: sensitive work on the project, a due break taken in full, a sensitive break cut short,
    # a voluntary break; then sensitive work on another project and a break after it (not ours).
    _span(a, session_a, project, T1, 50, categories=["violence"])
    _break(a, Break.Kind.DUE, T1 + 50 * M, 10, paid=600)
    _span(a, session_a, project, T1 + 60 * M, 10, categories=["violence", "gore"])
    _break(a, Break.Kind.SENSITIVE, T1 + 70 * M, 15, paid=300, ended_after=5)
    _break(a, Break.Kind.VOLUNTARY, T1 + 76 * M, 4, paid=240)
    _span(a, session_a, other, T1 + 120 * M, 20, categories=["hate"])
    _break(a, Break.Kind.DUE, T1 + 140 * M, 10, paid=600)
    # B: six safe hours on the project, the long break of the day, and a due break still running.
    _span(b, session_b, project, T1, 360)
    _break(b, Break.Kind.LONG, T1 + 360 * M, 20, paid=1200)
    _break(b, Break.Kind.DUE, T1 + 400 * M, 60 * 24 * 365 * 80, paid=600)
    # The daily roll-up: A's day passed the 4 h sensitive cap (across projects) and gore's cap;
    # another day of A's, with no work on this project, does not count here.
    WorkDay.objects.create(
        annotator=a,
        day=date(2025, 3, 3),
        sensitive_seconds=Decimal(5 * 3600),
        category_seconds={"violence": "3600", "gore": "600", "hate": "1200"},
        first_at=T1,
        last_at=T1 + 150 * M,
    )
    WorkDay.objects.create(
        annotator=a,
        day=date(2025, 3, 6),
        sensitive_seconds=Decimal(9 * 3600),
        category_seconds={"hate": str(9 * 3600)},
        first_at=T1 + timedelta(days=3),
        last_at=T1 + timedelta(days=3, hours=9),
    )
    WorkDay.objects.create(annotator=b, day=date(2025, 3, 3), first_at=T1, last_at=T1 + 420 * M)
    return project, a, b


def test_breaks_come_from_the_working_time_records_of_the_project(world):
    project, _a, _b = world
    record = services.project_provenance(project=project)
    assert record["breaks"] == {
        "due": {"due": 2, "sensitive": 1, "long": 1},
        "due_total": 4,
        "taken_in_full": 2,
        "cut_short": 1,
        "in_progress": 1,
        "chosen": {"voluntary": 1, "recovery": 0, "cooldown": 0},
        # 600 + 300 + 240 + 1200 + 600 paid seconds; A's break after the other project's work
        # is that project's.
        "paid_hours": "0.817",
    }
    assert "last work span" in record["notes"]["breaks"]


def test_exposure_per_category_and_the_days_against_the_caps(world):
    project, _a, _b = world
    exposure = services.project_provenance(project=project)["exposure"]
    assert exposure["sensitive_hours"] == "1.000"  # 50 + 10 minutes, the other project's apart
    assert exposure["per_category"] == {"violence": "1.000", "gore": "0.167"}
    assert exposure["annotators_exposed"] == 1
    assert (exposure["daily_cap_hours"], exposure["category_caps_hours"]) == ("4", {"gore": "0.1"})
    # A's day and B's day on the project; A's 6 March had no work on it.
    assert exposure["annotator_days"] == 2
    assert exposure["annotator_days_over_cap"] == 1
    assert exposure["annotator_days_over_category_cap"] == 1
    assert exposure["annotator_days_over_a_cap"] == 1  # the same day, counted once
    assert exposure["cap_passed"] is True and exposure["max_day_sensitive_hours"] == "5.000"


def test_an_admin_override_of_the_cap_is_the_cap_in_the_record(world, settings):
    project, _a, _b = world
    settings.FAIRLABEL_CATEGORY_DAILY_HOURS = []
    PolicyOverride.objects.create(name="FAIRLABEL_SENSITIVE_DAILY_HOURS", value="6")
    record = services.project_provenance(project=project)
    assert record["exposure"]["daily_cap_hours"] == "6"
    assert record["exposure"]["annotator_days_over_cap"] == 0
    assert record["exposure"]["cap_passed"] is False
    (cap,) = [p for p in record["policies"] if p["name"] == "FAIRLABEL_SENSITIVE_DAILY_HOURS"]
    assert cap["value"] == "6" and cap["rule"] == "exposure-caps" and "YouTube" in cap["source"]


def test_policies_in_force_each_with_its_source(world):
    project, _a, _b = world
    policies = {p["name"]: p for p in services.project_provenance(project=project)["policies"]}
    assert policies["FAIRLABEL_FLOOR_HOURLY"]["value"] == "12.00"
    assert "Prolific" in policies["FAIRLABEL_FLOOR_HOURLY"]["source"]
    assert "HSE" in policies["FAIRLABEL_BREAK_AFTER_MINUTES"]["source"]
    assert "ILO" in policies["FAIRLABEL_DAILY_HOURS"]["source"]
    assert "median completion time" in policies["FAIRLABEL_REPRICE_AFTER"]["source"]
    assert "FAIRLABEL_SESSION_TIMEOUT_MINUTES" not in policies  # operational, not a protection
    assert all(p["source"] and p["label"] and p["rule"] for p in policies.values())


def test_period_pay_distribution_and_ledger_head(world):
    project, _a, _b = world
    record = services.project_provenance(project=project)
    created = Annotation.objects.filter(project=project).values_list("created_at", flat=True)
    assert record["period"] == {
        "start": min(created).isoformat(),
        "end": max(created).isoformat(),
    }
    # Both settled at least at the floor: B's fast work was topped up to it.
    dist = record["effective_hourly_distribution"]
    assert dist["annotators"] == 2 and dist["floor_hourly"] == "12.00"
    assert Decimal(dist["min"]) >= Decimal("12.00") and dist["below_floor"] == 0
    rates = sorted(Decimal(p["effective_hourly"]) for p in record["per_annotator"])
    assert (dist["min"], dist["p10"]) == (str(rates[0]), str(rates[0]))
    assert Decimal(dist["median"]) == ((rates[0] + rates[1]) / 2).quantize(Decimal("0.01"))
    assert record["meets_floor"] is True and record["below_floor_after_topup"] == 0
    assert Decimal(record["topups"]) > 0
    head = ledger.ledger_head(ChainHead.objects.values_list("chain", "seq", "hash"))
    assert record["ledger_head"] == head and len(head) == 64
    # No auditor's report ran: no verification to show, and the record says so by a null.
    assert record["ledger_verification"] is None


def test_the_export_record_carries_the_same_sections_and_no_not_tracked_wording(world, tmp_path):
    project, _a, _b = world
    services.export_to_path(project=project, fmt="jsonl", path=tmp_path / "out.jsonl")
    record = json.loads((tmp_path / "out.provenance.json").read_text())
    assert record["breaks"]["due_total"] == 4 and record["exposure"]["sensitive_hours"] == "1.000"
    assert record["policies"] and record["effective_hourly_distribution"]["annotators"] == 2
    assert "tracked once" not in json.dumps(record)
    assert record["format"] == "jsonl" and record["period"]["start"]


def test_ledger_verification_is_the_last_reports_check(world, auditor):
    from payments.reports import report_create, report_job_run

    project, _a, _b = world
    job = report_create(user=auditor, start=WORKED - timedelta(days=1), end=T1 + timedelta(days=1))
    job = report_job_run(job_id=job.pk)
    verification = services.project_provenance(project=project)["ledger_verification"]
    assert verification == {
        "ok": True,
        "checked_at": job.finished_at.isoformat(),
        "head": job.ledger_head,
    }


def test_without_the_working_time_section_the_record_says_so(world, settings):
    project, _a, _b = world
    settings.FAIRLABEL_PROVENANCE_SECTIONS = ["payments.selectors.pay_provenance"]
    record = services.project_provenance(project=project)
    assert record["breaks"] is None and record["exposure"] is None
    assert "FAIRLABEL_PROVENANCE_SECTIONS" in record["notes"]["breaks"]
