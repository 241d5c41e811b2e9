"""Working time: heartbeats, sessions, breaks and hours limits, through the dispatcher's gate.

Time is passed explicitly (`now=`) to the services, and travelled with time-machine for the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, transaction

from fairlabel.errors import DomainError
from labeling import dispatch
from labeling.models import Annotation, Assignment, PolicyChange
from labeling.services import policy_set
from tests.factories import project_factory
from workers import services
from workers.models import Break, WorkDay, WorkSession, WorkSpan, WorkState

pytestmark = pytest.mark.django_db

T0 = datetime(2030, 6, 3, 8, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def project(owner):
    return project_factory(owner, tasks=300, publish=True)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def beat(annotator, t, **kwargs):
    return services.heartbeat_record(annotator=annotator, now=t, **kwargs)


def next_at(annotator, project, t):
    return dispatch.assignment_next(annotator=annotator, project=project, now=t)


def refused_at(annotator, project, t) -> DomainError:
    with pytest.raises(DomainError) as refused:
        next_at(annotator, project, t)
    assert refused.value.status_code == 409
    return refused.value


def work(annotator, project, start, minutes, *, step=30):
    """Label without pause: a heartbeat every `step` seconds, a submit and the next task every
    minute. Returns the time of the last heartbeat."""
    held = next_at(annotator, project, start)
    t = start
    end = start + timedelta(minutes=minutes)
    while t < end:
        t += s(step)
        beat(annotator, t, assignment_id=held.pk)
        if (t - start).total_seconds() % 60 == 0 and t < end:
            dispatch.annotation_submit(
                annotator=annotator, assignment_id=held.pk, result={"label": "pos"}, now=t
            )
            held = next_at(annotator, project, t)
    return t


# --- breaks --------------------------------------------------------------------------------------


def test_a_break_is_due_at_the_50th_minute_and_tasks_return_after_it(annotator, project):
    held = next_at(annotator, project, T0)
    for n in range(1, 100):  # 30-second heartbeats up to 49:30
        standing = beat(annotator, T0 + s(30 * n), assignment_id=held.pk)
    assert standing.break_until is None and standing.work_until_break == Decimal("30.000")
    assert next_at(annotator, project, T0 + s(2970)).pk == held.pk  # 49:30, still working
    standing = beat(annotator, T0 + s(3000), assignment_id=held.pk)  # the 50th minute
    assert standing.break_until == T0 + timedelta(minutes=60)
    assert standing.refusal.code == "break"
    refusal = refused_at(annotator, project, T0 + s(3001))
    assert (refusal.code, refusal.until) == ("break", T0 + timedelta(minutes=60))
    assert refusal.rule.endswith("#breaks")
    held.refresh_from_db()  # the held task is not handed back: its slot is released
    assert held.status == Assignment.Status.EXPIRED and not held.holds_slot
    assert refused_at(annotator, project, T0 + s(3599)).code == "break"
    served = next_at(annotator, project, T0 + s(3600))
    assert served is not None and served.pk != held.pk
    taken = Break.objects.get(annotator=annotator)
    assert (taken.kind, taken.started_at, taken.paid_seconds) == ("due", T0 + s(3000), 600)
    after = services.work_standing(annotator=annotator, now=T0 + s(3600))
    assert after.work_until_break == Decimal(50 * 60)


def test_sensitive_work_earns_a_longer_break_sooner(owner, annotator):
    project = project_factory(owner, tasks=5, publish=True, content_categories=["violence"])
    services.consent_set(annotator=annotator, project=project, categories=["violence"])
    held = next_at(annotator, project, T0)
    for n in range(1, 91):  # 45 minutes
        standing = beat(annotator, T0 + s(30 * n), assignment_id=held.pk)
    assert standing.break_kind == "sensitive"
    assert standing.break_until == T0 + timedelta(minutes=45 + 15)


def test_idle_gaps_are_not_work_and_active_time_is_what_the_annotation_records(annotator, project):
    held = next_at(annotator, project, T0)
    beat(annotator, T0 + s(30), assignment_id=held.pk)
    beat(annotator, T0 + s(60), assignment_id=held.pk)
    beat(annotator, T0 + s(151), assignment_id=held.pk)  # a 91 s gap: idle, not counted
    standing = beat(annotator, T0 + s(181), assignment_id=held.pk)
    assert standing.today_seconds == Decimal("90.000")
    outcome = dispatch.annotation_submit(
        annotator=annotator, assignment_id=held.pk, result={"label": "pos"}, now=T0 + s(191)
    )
    assert outcome.annotation.seconds == Decimal("100.000")  # not the 191 s of wall clock
    assert services.work_standing(annotator=annotator, now=T0 + s(191)).today_seconds == 100


def test_reading_a_task_and_skipping_it_is_work(annotator, project):
    held = next_at(annotator, project, T0)
    beat(annotator, T0 + s(30), assignment_id=held.pk)
    skipped = dispatch.assignment_skip(annotator=annotator, assignment_id=held.pk, now=T0 + s(45))
    assert skipped.active_seconds == Decimal("45.000")
    assert services.work_standing(annotator=annotator, now=T0 + s(45)).today_seconds == 45


def test_heartbeats_keep_the_held_assignment_alive(settings, annotator, project, make_user):
    settings.FAIRLABEL_ASSIGNMENT_MINUTES = Decimal("1")
    held = next_at(annotator, project, T0)
    for n in range(1, 10):  # 4.5 minutes of heartbeats, past the 1-minute lifetime
        beat(annotator, T0 + s(30 * n), assignment_id=held.pk)
    assert dispatch.assignments_expire(now=T0 + s(290)) == 0
    held.refresh_from_db()
    assert held.status == Assignment.Status.OPEN and held.expires_at == T0 + s(270 + 60)
    assert dispatch.assignments_expire(now=T0 + s(331)) == 1  # heartbeats stopped


def test_an_api_client_without_heartbeats_still_has_its_time_counted(annotator, project):
    """next, submit and skip are signs of work too: no way around the rules by not beating."""
    t = T0
    for _ in range(60):  # 60 tasks of 50 s: 50 minutes
        held = next_at(annotator, project, t)
        t += s(50)
        dispatch.annotation_submit(
            annotator=annotator, assignment_id=held.pk, result={"label": "pos"}, now=t
        )
    assert refused_at(annotator, project, t).code == "break"
    assert Annotation.objects.filter(annotator=annotator).count() == 60
    assert set(Annotation.objects.values_list("seconds", flat=True)) == {Decimal("50.000")}


def test_a_pause_as_long_as_a_break_ends_the_stretch(annotator, project):
    last = work(annotator, project, T0, 40)
    resume = last + timedelta(minutes=10)
    last = work(annotator, project, resume, 40)
    assert services.work_standing(annotator=annotator, now=last).break_until is None
    assert not Break.objects.exists()


def test_the_long_break_once_the_day_reaches_six_hours(settings, annotator, project):
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("1000")  # only the long break here
    held = next_at(annotator, project, T0)
    t = T0
    for _ in range(6 * 120):
        t += s(30)
        standing = beat(annotator, t, assignment_id=held.pk)
    assert t == T0 + timedelta(hours=6)
    assert (standing.break_kind, standing.break_until) == ("long", t + timedelta(minutes=20))
    # Only once a day.
    t = standing.break_until
    held = next_at(annotator, project, t)
    for _ in range(60):
        t += s(30)
        standing = beat(annotator, t, assignment_id=held.pk)
    assert standing.break_until is None


def test_a_voluntary_break_refuses_tasks_until_ended(client_for, annotator, project):
    client = client_for(annotator)
    with time_machine.travel(T0, tick=False):
        assert client.post(f"/api/projects/{project.pk}/next/").status_code == 200
        response = client.post("/api/breaks/", {"kind": "break"}, format="json")
        assert response.status_code == 201
        assert datetime.fromisoformat(response.json()["break_until"]) == T0 + s(600)
        refused = client.post(f"/api/projects/{project.pk}/next/")
        assert refused.status_code == 409 and refused.json()["error"] == "break"
    with time_machine.travel(T0 + s(120), tick=False):
        ended = client.post("/api/breaks/end/")
        assert ended.status_code == 200 and ended.json()["break_until"] is None
        assert client.post(f"/api/projects/{project.pk}/next/").status_code == 200
    taken = Break.objects.get()
    assert (taken.kind, taken.ended_at, taken.paid_seconds) == ("voluntary", T0 + s(120), 120)


def test_a_due_break_cannot_be_ended_early(client_for, annotator, project):
    last = work(annotator, project, T0, 50)
    with time_machine.travel(last + s(5), tick=False):
        response = client_for(annotator).post("/api/breaks/end/")
    assert response.status_code == 409 and response.json()["error"] == "break_due"


# --- limits --------------------------------------------------------------------------------------


def test_daily_hours_count_across_projects(settings, owner, annotator, project):
    settings.FAIRLABEL_DAILY_HOURS = Decimal("1")
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("1000")
    other = project_factory(owner, tasks=100, publish=True)
    last = work(annotator, project, T0, 40)
    last = work(annotator, other, last, 20)
    for either in (project, other):
        refusal = refused_at(annotator, either, last)
        assert refusal.code == "daily_limit"
        # Until the next local day (the rest between days, 11 h after 09:00, passes before).
        assert refusal.until == datetime(2030, 6, 4, tzinfo=UTC)
    assert refusal.rule.endswith("#daily-limit")


def test_rest_between_working_days(settings, annotator, project):
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("1000")
    evening = datetime(2030, 6, 3, 19, 0, tzinfo=UTC)
    last = work(annotator, project, evening, 60)  # until 20:00
    refusal = refused_at(annotator, project, datetime(2030, 6, 4, 6, 0, tzinfo=UTC))
    assert (refusal.code, refusal.until) == ("rest", last + timedelta(hours=11))
    assert next_at(annotator, project, last + timedelta(hours=11)) is not None


def test_a_day_boundary_in_the_annotators_time_zone(settings, make_user, project):
    """Kolkata is UTC+05:30: its day starts at 18:30 UTC. Work before it counts for that day."""
    settings.FAIRLABEL_REST_HOURS = Decimal("0")
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("1000")
    annotator = make_user("annotator", timezone="Asia/Kolkata")
    last = work(annotator, project, datetime(2030, 6, 3, 18, 0, tzinfo=UTC), 20)  # 23:30-23:50
    assert services.work_standing(annotator=annotator, now=last).today_seconds == 20 * 60
    after_midnight = datetime(2030, 6, 3, 18, 35, tzinfo=UTC)  # 00:05 local
    assert services.work_standing(annotator=annotator, now=after_midnight).today_seconds == 0
    last = work(annotator, project, after_midnight, 10)
    standing = services.work_standing(annotator=annotator, now=last)
    assert standing.today_seconds == 10 * 60 and standing.week_seconds == 30 * 60


def test_a_daily_limit_on_a_dst_day_ends_at_the_local_midnight(settings, make_user, project):
    """Paris moves to summer time on 2030-03-31: that day lasts 23 hours and the next one starts
    at 22:00 UTC (not 23:00)."""
    settings.FAIRLABEL_REST_HOURS = Decimal("0.5")
    settings.FAIRLABEL_DAILY_HOURS = Decimal("1")
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("1000")
    annotator = make_user("annotator", timezone="Europe/Paris")
    last = work(annotator, project, datetime(2030, 3, 31, 18, 0, tzinfo=UTC), 60)
    refusal = refused_at(annotator, project, last)
    assert refusal.code == "daily_limit"
    assert refusal.until == datetime(2030, 3, 31, 22, 0, tzinfo=UTC)
    assert refusal.until.astimezone(ZoneInfo("Europe/Paris")).hour == 0


def test_weekly_hours(settings, annotator, project):
    settings.FAIRLABEL_REST_HOURS = Decimal("0")
    settings.FAIRLABEL_DAILY_HOURS = Decimal("1")
    settings.FAIRLABEL_WEEKLY_HOURS = Decimal("2")
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("1000")
    work(annotator, project, T0, 60)  # Monday
    last = work(annotator, project, T0 + timedelta(days=1), 60)  # Tuesday
    refusal = refused_at(annotator, project, T0 + timedelta(days=2))  # Wednesday
    assert refusal.code == "weekly_limit"
    assert refusal.until == datetime(2030, 6, 10, tzinfo=UTC)  # next Monday
    assert last < refusal.until
    assert next_at(annotator, project, datetime(2030, 6, 10, 8, tzinfo=UTC)) is not None


def test_one_day_off_in_seven(settings, annotator, owner):
    settings.FAIRLABEL_REST_HOURS = Decimal("0")
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("1000")
    project = project_factory(owner, tasks=200, publish=True)
    for day in range(6):
        work(annotator, project, T0 + timedelta(days=day), 5)
    refusal = refused_at(annotator, project, T0 + timedelta(days=6))
    assert refusal.code == "rest" and refusal.rule.endswith("#day-off")
    assert refusal.until == datetime(2030, 6, 10, tzinfo=UTC)
    assert next_at(annotator, project, T0 + timedelta(days=7)) is not None


def test_an_admin_override_changes_the_rule_and_is_audited(admin_user, annotator, project):
    policy_set(name="FAIRLABEL_BREAK_AFTER_MINUTES", value="5", changed_by=admin_user)
    last = work(annotator, project, T0, 5)
    assert refused_at(annotator, project, last).code == "break"
    change = PolicyChange.objects.get()
    assert (change.name, change.old_value, change.new_value) == (
        "FAIRLABEL_BREAK_AFTER_MINUTES",
        "50",
        "5",
    )
    assert change.changed_by == admin_user
    with pytest.raises(DomainError):
        policy_set(name="FAIRLABEL_BREAK_AFTER_MINUTES", value="-3", changed_by=admin_user)
    policy_set(name="FAIRLABEL_BREAK_AFTER_MINUTES", value=None, changed_by=admin_user)
    assert PolicyChange.objects.count() == 2


# --- sessions and the roll-up --------------------------------------------------------------------


def test_sessions_close_at_their_last_heartbeat(annotator, project):
    held = next_at(annotator, project, T0)
    beat(annotator, T0 + s(30), assignment_id=held.pk)
    assert services.work_sessions_close(now=T0 + s(30) + timedelta(minutes=4)) == 0
    assert services.work_sessions_close(now=T0 + s(31) + timedelta(minutes=5)) == 1
    assert services.work_sessions_close(now=T0 + timedelta(minutes=10)) == 0  # idempotent
    session = WorkSession.objects.get()
    assert (session.started_at, session.ended_at) == (T0, T0 + s(30))
    beat(annotator, T0 + timedelta(minutes=20))
    assert WorkSession.objects.filter(ended_at__isnull=True).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkSession.objects.create(annotator=annotator, started_at=T0 + timedelta(hours=1))


def test_a_silence_longer_than_the_timeout_opens_a_new_session_without_celery(annotator, project):
    held = next_at(annotator, project, T0)
    beat(annotator, T0 + s(30), assignment_id=held.pk)
    beat(annotator, T0 + timedelta(minutes=7), kind=WorkSpan.Kind.INSTRUCTIONS)
    assert list(WorkSession.objects.order_by("pk").values_list("started_at", "ended_at")) == [
        (T0, T0 + s(30)),
        (T0 + timedelta(minutes=7), None),
    ]


def test_the_roll_up_rebuilds_the_same_figures_twice(settings, make_user, project):
    settings.FAIRLABEL_REST_HOURS = Decimal("0")
    annotator = make_user("annotator", timezone="Asia/Kolkata")
    start = datetime(2030, 6, 3, 18, 0, tzinfo=UTC)  # 23:30 local: the work crosses midnight
    beat(annotator, start - s(60), kind=WorkSpan.Kind.INSTRUCTIONS, project_id=project.pk)
    beat(annotator, start - s(30), kind=WorkSpan.Kind.INSTRUCTIONS, project_id=project.pk)
    last = work(annotator, project, start, 40)  # crosses midnight at the 30th minute
    services.break_take(annotator=annotator, now=last)
    state = WorkState.objects.get(annotator=annotator)
    first, second = date(2030, 6, 3), date(2030, 6, 4)
    services.work_days_rebuild(annotator_ids=[annotator.pk], first=first, last=second)
    rows = list(WorkDay.objects.order_by("day").values())
    services.work_days_rebuild(annotator_ids=[annotator.pk], first=first, last=second)
    again = list(WorkDay.objects.order_by("day").values())
    strip = [{k: v for k, v in row.items() if k != "id"} for row in rows]
    assert strip == [{k: v for k, v in row.items() if k != "id"} for row in again]
    before, after = rows
    assert before["day"] == first and after["day"] == second
    assert before["instruction_seconds"] == Decimal("30.000")
    # Everything from the first heartbeat at 23:29 local to midnight is work.
    assert before["active_seconds"] + before["instruction_seconds"] == 31 * 60
    assert after["active_seconds"] == state.day_seconds  # the live counter agrees
    assert after["break_seconds"] == 600
    assert before["tasks_done"] + after["tasks_done"] == Annotation.objects.count()
    assert last > start


def test_heartbeat_api_answers_the_standing(client_for, annotator, project):
    client = client_for(annotator)
    with time_machine.travel(T0, tick=False):
        body = client.post(f"/api/projects/{project.pk}/next/").json()
    with time_machine.travel(T0 + s(30), tick=False):
        response = client.post(
            "/api/heartbeat/", {"project": project.pk, "assignment": body["assignment"]}
        )
    assert response.status_code == 200
    standing = response.json()
    assert standing["today_seconds"] == "30.000"
    assert standing["paid_seconds_today"] == "30.000"
    assert standing["next_break_in_seconds"] == "2970.000"
    assert standing["break_until"] is None and standing["refusal"] is None
    bad = client.post("/api/heartbeat/", {"kind": "napping"})
    assert bad.status_code == 400
    nowhere = client.post("/api/heartbeat/", {"kind": "instructions"})
    assert nowhere.status_code == 400 and "project" in nowhere.json()["fields"]
    unknown = client.post("/api/heartbeat/", {"kind": "instructions", "project": 999_999})
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    huge = client.post("/api/heartbeat/", {"assignment": 2**70})
    assert huge.status_code == 400


def test_owners_see_hours_per_pseudonym_not_heartbeats(client_for, owner, annotator, project):
    held = next_at(annotator, project, T0)
    beat(annotator, T0 + s(30), assignment_id=held.pk)
    dispatch.annotation_submit(
        annotator=annotator, assignment_id=held.pk, result={"label": "pos"}, now=T0 + s(40)
    )
    body = client_for(owner).get(f"/api/projects/{project.pk}/annotators/").json()
    (row,) = body["annotators"]
    assert row["seconds"] == "40.000"
    assert annotator.username not in str(body)
    assert client_for(owner).post("/api/heartbeat/").status_code == 403


# --- the rules page ------------------------------------------------------------------------------

# Every refusal code the dispatcher can answer today, and the gate or hook that gives it.
REFUSAL_CODES = {
    "project_closed",
    "break",
    "daily_limit",
    "weekly_limit",
    "rest",
    "consent_required",
    "exposure_cap",
}


def test_every_refusal_links_to_a_rule_on_the_rules_page(client):
    from labeling.policies import rules_for

    docs = rules_for(user=None, now=T0)
    anchors = {doc.anchor for doc in docs}
    covered = {code for doc in docs for code in doc.codes}
    assert covered >= REFUSAL_CODES
    page = client.get("/rules/").content.decode()
    for anchor in anchors | {"day-off", "consent", "exposure-caps", "cool-down", "recovery"}:
        assert f'id="{anchor}"' in page
    assert "50" in page and "UK HSE" in page  # parameters in force and their sources


def test_the_rules_page_shows_an_annotators_standing(client, annotator, project):
    last = work(annotator, project, T0, 3)
    with time_machine.travel(last, tick=False):
        client.force_login(annotator)
        page = client.get("/rules/").content.decode()
    assert 'data-testid="standing-daily-limit"' in page
    assert "0 h 03 min" in page


def test_a_page_left_open_without_a_task_counts_nothing(settings, annotator, project):
    """During a rest or a limit the page holds no task: its heartbeats must not count as work
    (they would push the rest period on)."""
    settings.FAIRLABEL_DAILY_HOURS = Decimal("0.5")
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("1000")
    last = work(annotator, project, T0, 30)
    refusal = refused_at(annotator, project, last)
    for n in range(1, 20):
        standing = beat(annotator, last + s(30 * n))
    assert standing.today_seconds == 30 * 60
    assert refused_at(annotator, project, last + s(600)).until == refusal.until


def test_a_heartbeat_costs_a_fixed_number_of_queries(
    client_for, annotator, project, django_assert_max_num_queries
):
    client = client_for(annotator)
    body = client.post(f"/api/projects/{project.pk}/next/").json()
    for _ in range(3):
        # auth + role, profile, policies; the held assignment locked and updated; the working
        # state locked, its span and itself updated (+ savepoint pair in the test transaction).
        with django_assert_max_num_queries(10):
            response = client.post("/api/heartbeat/", {"assignment": body["assignment"]})
        assert response.status_code == 200
