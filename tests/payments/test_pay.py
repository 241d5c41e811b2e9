"""Fair pay: floors, budgets and reservations, the ledger, settlement, payouts, reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from fairlabel.errors import DomainError
from labeling import dispatch
from labeling.services import project_publish
from payments import ledger, services
from payments.ledger import Movement
from payments.models import CountryFloor, Entry, Kind, PriceChange, Settlement
from payments.selectors import budget_of, earnings_of
from tests.factories import project_factory
from workers.services import heartbeat_record

T0 = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)


def _pay(annotator, kinds=(Kind.TASK_PAY, Kind.TIME_PAY)) -> Decimal:
    return sum(
        Entry.objects.filter(annotator=annotator, kind__in=kinds).values_list("amount", flat=True),
        Decimal(0),
    )


def _work(annotator, project, *, seconds: int, start: datetime, submit=True):
    """Serve a task, heartbeat through `seconds` of work, then submit (or skip) it."""
    assignment = dispatch.assignment_next(annotator=annotator, project=project, now=start)
    now = start
    while (now - start).total_seconds() < seconds:
        now = min(now + timedelta(seconds=60), start + timedelta(seconds=seconds))
        heartbeat_record(annotator=annotator, now=now, assignment_id=assignment.pk)
    if submit:
        dispatch.annotation_submit(
            annotator=annotator, assignment_id=assignment.pk, result={"label": "pos"}, now=now
        )
    else:
        dispatch.assignment_skip(annotator=annotator, assignment_id=assignment.pk, now=now)
    return assignment, now


# --- floors and publishing ---------------------------------------------------------------------


def test_the_floor_is_the_highest_of_global_and_own_country(settings, admin_user, make_user):
    from payments.policies import floor_hourly

    settings.FAIRLABEL_FLOOR_HOURLY = Decimal("12.00")
    kenyan, swiss = make_user("annotator", country="KE"), make_user("annotator", country="CH")
    services.floor_set(country="ch", hourly="30.00", changed_by=admin_user)
    services.floor_set(country="KE", hourly="5.00", changed_by=admin_user)
    assert floor_hourly(user=kenyan) == Decimal("12.00")
    assert floor_hourly(user=swiss) == Decimal("30.00")
    assert floor_hourly(highest=True) == Decimal("30.00")
    from payments.models import FloorChange

    assert FloorChange.objects.filter(country="CH", new_hourly=Decimal("30.00")).exists()


def test_publishing_is_refused_under_the_highest_floor_and_when_not_funded(
    owner, make_user, admin_user
):
    make_user("annotator", country="CH")
    services.floor_set(country="CH", hourly="30.00", changed_by=admin_user)
    # 0.10 per 20 s is 18/h: over the global floor, under Switzerland's.
    project = project_factory(owner, tasks=1, fund=False)
    with pytest.raises(DomainError) as refused:
        project_publish(project=project)
    assert refused.value.code == "below_floor"
    assert refused.value.extra["floor_hourly"] == "30.00"
    services.floor_set(country="CH", hourly=None, changed_by=admin_user)
    with pytest.raises(DomainError) as unfunded:
        project_publish(project=project)
    assert unfunded.value.code == "not_funded"
    services.project_fund(project=project, amount="3.00")
    assert project_publish(project=project).status == "published"


@pytest.mark.parametrize("bad", ["-1", "0", "abc", "1.001", "NaN", "1e400"])
def test_funding_takes_only_a_positive_amount_in_cents(owner, client_for, bad):
    project = project_factory(owner, fund=False)
    response = client_for(owner).post(
        f"/api/projects/{project.pk}/fund/", {"amount": bad}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_amount"
    assert not Entry.objects.filter(project=project).exists()


# --- reservations at the dispatcher --------------------------------------------------------------


def test_a_claim_reserves_worst_case_pay_and_submission_pays_the_price(owner, annotator):
    project = project_factory(owner, tasks=3, publish=True, fund="100.00")
    assignment = dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    # 0.10 + 12.00/h for the 10 minutes an assignment is held = 2.10
    budget = budget_of(project=project)
    assert (budget["reserved"], budget["available"]) == ("2.10", "97.90")
    dispatch.annotation_submit(
        annotator=annotator, assignment_id=assignment.pk, result={"label": "pos"}, now=T0
    )
    dispatch.annotation_submit(  # a double click pays once
        annotator=annotator, assignment_id=assignment.pk, result={"label": "pos"}, now=T0
    )
    assert _pay(annotator) == Decimal("0.10")
    budget = budget_of(project=project)
    assert (budget["reserved"], budget["available"], budget["spent"]) == ("0.00", "99.90", "0.10")
    assert ledger.verify().ok


def test_skip_and_expiry_pay_the_measured_time_at_the_floor(settings, owner, make_user):
    project = project_factory(owner, tasks=3, publish=True, fund="100.00")
    skipper, leaver = make_user("annotator"), make_user("annotator")
    _work(skipper, project, seconds=300, start=T0, submit=False)
    assert _pay(skipper) == Decimal("1.00")  # 5 minutes at 12.00/h
    assignment = dispatch.assignment_next(annotator=leaver, project=project, now=T0)
    heartbeat_record(annotator=leaver, now=T0 + timedelta(seconds=60), assignment_id=assignment.pk)
    dispatch.assignments_expire(now=T0 + timedelta(hours=1))
    assert _pay(leaver) == Decimal("0.20")
    assert budget_of(project=project)["reserved"] == "0.00"
    assert ledger.verify().ok


def test_no_task_is_served_when_the_budget_cannot_pay_for_one_more(owner, make_user, client_for):
    project = project_factory(owner, tasks=5, publish=True, fund="4.30")
    first, second, third = (make_user("annotator") for _ in range(3))
    held = dispatch.assignment_next(annotator=first, project=project)
    dispatch.assignment_next(annotator=second, project=project)
    response = client_for(third).post(f"/api/projects/{project.pk}/next/")
    assert response.status_code == 409
    assert response.json()["error"] == "budget"
    assert response.json()["rule"].endswith("#budget")
    # The task already held is paid for: it is handed back, not refused.
    assert dispatch.assignment_next(annotator=first, project=project).pk == held.pk
    assert budget_of(project=project)["exhausted"] is True
    # Submitting frees what the task did not need: the next one can be served.
    dispatch.annotation_submit(annotator=first, assignment_id=held.pk, result={"label": "pos"})
    assert client_for(third).post(f"/api/projects/{project.pk}/next/").status_code == 200


# --- the ledger ------------------------------------------------------------------------------


def test_entries_cannot_be_updated_and_a_wrong_sign_is_refused(owner):
    project = project_factory(owner)
    entry = Entry.objects.filter(project=project).get()
    with pytest.raises(DatabaseError), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount=Decimal("1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger.append(
            [Movement(Kind.FUNDING, "negative", Decimal("-5"), project.pk)], chain=17, now=T0
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # the same reference twice
        ledger.append(
            [Movement(Kind.FUNDING, entry.reference, Decimal("5"), project.pk)], chain=17, now=T0
        )


@pytest.mark.postgres
def test_an_entry_cannot_be_deleted_on_postgresql(owner):
    project = project_factory(owner)
    with pytest.raises(DatabaseError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM payments_entry WHERE project_id = %s", [project.pk])


def test_verify_finds_a_tampered_entry(owner):
    project = project_factory(owner, fund="10.00")
    assert ledger.verify().ok
    entry = Entry.objects.get(project=project)
    with transaction.atomic(), connection.cursor() as cursor:
        # What an attacker with the database's owner rights could do: drop the guard, edit.
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER payments_entry_no_update")
        cursor.execute("UPDATE payments_entry SET amount = 99 WHERE id = %s", [entry.pk])
        result = ledger.verify()
        transaction.set_rollback(True)
    assert not result.ok
    assert any("hash" in p for p in result.problems)


# --- settlement ------------------------------------------------------------------------------


def test_settlement_tops_up_a_slow_annotator_to_the_floor_once(owner, make_user):
    project = project_factory(owner, tasks=5, publish=True, fund="100.00")
    slow = make_user("annotator")
    start = T0
    for _ in range(3):  # 0.10 a task at 4 minutes each: 1.50/h of piece pay
        _assignment, start = _work(slow, project, seconds=240, start=start)
    job = services.settle_now(cutoff=start + timedelta(minutes=1))
    assert job.status == "done"
    row = Settlement.objects.get(annotator=slow, project=project)
    paid_hours = row.paid_seconds / 3600
    earned = _pay(slow, kinds=[k for k in Kind.values if k not in ("reservation", "release")])
    assert earned >= Decimal("12.00") * paid_hours
    assert row.topup > 0
    entries = Entry.objects.count()
    # Again, for the same period and a new one: nothing is paid twice.
    services.settlement_job_run(job_id=job.pk)
    services.settle_now(cutoff=start + timedelta(minutes=2))
    assert Entry.objects.count() == entries
    assert ledger.verify().ok
    body = earnings_of(annotator=slow)
    assert Decimal(body["effective_hourly"]) >= Decimal("12.00")


hyp = hsettings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@hyp
@given(
    work=st.lists(
        st.tuples(st.integers(min_value=1, max_value=600), st.booleans()), min_size=1, max_size=4
    ),
    price=st.sampled_from(["0.01", "0.05", "0.40", "2.00"]),
)
@pytest.mark.django_db
def test_settlement_never_leaves_anyone_under_the_floor_and_the_ledger_balances(work, price):
    from tests.factories import user_factory

    owner = user_factory("owner")
    project = project_factory(
        owner, tasks=len(work), fund="500.00", price_per_task=price, estimated_seconds_per_task=1
    )
    project = project_publish(project=project)
    annotator = user_factory("annotator")
    start = T0
    for seconds, submit in work:
        _assignment, start = _work(annotator, project, seconds=seconds, start=start, submit=submit)
        start += timedelta(seconds=5)
    services.settle_now(cutoff=start + timedelta(minutes=1))
    rows = Settlement.objects.filter(annotator=annotator)
    paid = sum((r.paid_seconds for r in rows), Decimal(0))
    earned = _pay(annotator, kinds=[k for k in Kind.values if k not in ("reservation", "release")])
    assert earned >= (Decimal("12.00") * paid / 3600).quantize(Decimal("0.01"))
    assert ledger.verify().ok


# --- payouts -----------------------------------------------------------------------------------


def test_a_payout_needs_the_minimum_and_never_exceeds_the_balance(settings, owner, annotator):
    settings.FAIRLABEL_PAYOUT_MINIMUM = Decimal("0.50")
    project = project_factory(owner, tasks=2, publish=True, price_per_task="0.40")
    for _ in range(2):
        _work(annotator, project, seconds=20, start=T0)
    with pytest.raises(DomainError) as small:
        services.payout_request(annotator=annotator, amount="0.10")
    assert small.value.code == "below_minimum"
    with pytest.raises(DomainError) as big:
        services.payout_request(annotator=annotator, amount="0.81")
    assert big.value.code == "insufficient_balance"
    payout = services.payout_request(annotator=annotator)
    assert payout.amount == Decimal("0.80")
    assert earnings_of(annotator=annotator)["balance"] == "0.00"


# --- reviews, rejections and appeals -------------------------------------------------------


def test_rejected_work_is_paid_at_the_floor_and_an_appeal_is_decided_by_a_person(
    owner, annotator, client_for
):
    project = project_factory(owner, tasks=1, publish=True, price_per_task="1.00")
    assignment, _now = _work(annotator, project, seconds=60, start=T0)
    annotation = assignment.annotation
    api = client_for(owner)
    assert api.post(f"/api/annotations/{annotation.pk}/reject/", {"reason": ""}).status_code == 400
    rejected = api.post(
        f"/api/annotations/{annotation.pk}/reject/", {"reason": "Positive, but it is sarcasm."}
    )
    assert rejected.status_code == 201
    # The price is taken back; a minute at 12.00/h is paid.
    assert _pay(annotator, kinds=[Kind.TASK_PAY, Kind.ADJUSTMENT, Kind.REJECTION_FLOOR_PAY]) == (
        Decimal("0.20")
    )
    appeal = client_for(annotator).post(
        f"/api/annotations/{annotation.pk}/appeal/", {"text": "Read it again, it is not."}
    )
    assert appeal.status_code == 200 and appeal.json()["appeal_deadline"]
    decided = api.post(
        f"/api/annotations/{annotation.pk}/decide/",
        {"overturn": True, "note": "You are right."},
        format="json",
    )
    assert decided.json()["status"] == "overturned"
    assert _pay(annotator, kinds=[Kind.TASK_PAY, Kind.ADJUSTMENT, Kind.REJECTION_FLOOR_PAY]) == (
        Decimal("1.20")
    )
    assert ledger.verify().ok


# --- repricing ---------------------------------------------------------------------------


def test_the_measured_median_replaces_the_estimate_and_raises_an_underpaying_price(
    settings, owner, make_user
):
    settings.FAIRLABEL_REPRICE_AFTER = 3
    project = project_factory(owner, tasks=3, publish=True, annotations_per_task=1)
    start = T0
    for _ in range(3):  # 60 s each, against 20 s estimated: 0.10 a task is 6.00/h
        _assignment, start = _work(make_user("annotator"), project, seconds=60, start=start)
    change = services.project_reprice(project=project)
    project.refresh_from_db()
    assert (project.estimated_seconds_per_task, project.price_per_task) == (60, Decimal("0.20"))
    assert change.reason and PriceChange.objects.filter(project=project).count() == 1
    assert services.project_reprice(project=project) is None  # nothing new


# --- the API -----------------------------------------------------------------------------------


def test_earnings_api_has_the_contract_shape(owner, annotator, client_for):
    project = project_factory(owner, tasks=1, publish=True)
    _work(annotator, project, seconds=30, start=T0)
    body = client_for(annotator).get("/api/me/earnings/").json()
    assert {
        "currency",
        "floor_hourly",
        "paid_seconds",
        "earned",
        "effective_hourly",
        "balance",
        "entries",
    } <= set(body)
    assert body["entries"][0]["kind"] == "task_pay"
    assert set(body["entries"][0]) >= {"kind", "amount", "project", "created_at"}


def test_ledger_verify_api(auditor, client_for, owner):
    project_factory(owner)
    body = client_for(auditor).get("/api/ledger/verify/").json()
    assert body["ok"] is True and body["entries"] >= 1 and len(body["head"]) == 64


def test_country_floor_rows_are_checked(admin_user):
    with pytest.raises(DomainError):
        services.floor_set(country="Switzerland", hourly="30", changed_by=admin_user)
    assert not CountryFloor.objects.exists()


def test_rejecting_work_of_a_settled_period_never_takes_it_under_the_floor(owner, annotator):
    fast = project_factory(owner, tasks=1, publish=True, price_per_task="1.00")
    slow = project_factory(owner, tasks=1, publish=True, price_per_task="0.10")
    quick, start = _work(annotator, fast, seconds=60, start=T0)  # 60.00/h
    _slow, start = _work(annotator, slow, seconds=900, start=start)  # 0.40/h, estimated 18/h
    services.settle_now(cutoff=start + timedelta(minutes=1))
    paid_seconds = sum(
        (r.paid_seconds for r in Settlement.objects.filter(annotator=annotator)), Decimal(0)
    )
    owed = Decimal("12.00") * paid_seconds / 3600
    all_pay = [k for k in Kind.values if k not in ("reservation", "release")]
    assert _pay(annotator, kinds=all_pay) >= owed.quantize(Decimal("0.01"))
    services.annotation_reject(
        user=owner, annotation_id=quick.annotation.pk, reason="Wrong label for this one."
    )
    # The price is taken back, but the period had nothing above the floor to give back.
    assert _pay(annotator, kinds=all_pay) >= owed.quantize(Decimal("0.01"))
    assert Entry.objects.filter(kind=Kind.FLOOR_TOPUP, reference__startswith="reject:").exists()
    assert ledger.verify().ok


def test_an_owners_price_change_is_audited_and_an_exhausted_budget_does_not_block_edits(owner):
    from labeling.services import project_update

    project = project_factory(owner, tasks=1, publish=True, fund="2.10")
    dispatch.assignment_next(annotator=user_factory_annotator(), project=project)
    project = project_update(project=project, title="Renamed while the budget is used up")
    project = project_update(project=project, price_per_task="0.20")
    change = PriceChange.objects.get(project=project)
    assert (change.old_price, change.new_price, change.automatic) == (
        Decimal("0.10"),
        Decimal("0.20"),
        False,
    )


def user_factory_annotator():
    from tests.factories import user_factory

    return user_factory("annotator")
