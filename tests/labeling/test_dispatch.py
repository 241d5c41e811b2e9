"""The dispatcher through its services and its API: gates, claims, submit, skip, every role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from fairlabel.errors import DomainError
from labeling import dispatch
from labeling.models import Annotation, Assignment, Project, Task, TaskType
from labeling.policies import Refusal, Restriction
from labeling.services import project_pause, tasks_create
from tests.factories import project_factory

pytestmark = pytest.mark.django_db

UNTIL = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
T0 = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)
GOOD = {
    TaskType.TEXT_CLASSIFICATION: {"label": "pos"},
    TaskType.MULTI_LABEL: {"labels": ["tech", "sports"]},
    TaskType.TEXT_SPANS: {"spans": [{"start": 0, "end": 3, "label": "PER"}]},
    TaskType.IMAGE_CLASSIFICATION: {"label": "cat"},
    TaskType.IMAGE_BOXES: {"boxes": [{"x": 1, "y": 2, "w": 3, "h": 4, "label": "dog"}]},
}
BAD = {
    TaskType.TEXT_CLASSIFICATION: ({"label": "maybe"}, "Choose one label among: pos, neg"),
    TaskType.MULTI_LABEL: ({"labels": ["tech", "cooking"]}, "Unknown labels: cooking"),
    TaskType.TEXT_SPANS: (
        {"spans": [{"start": 5, "end": 9999, "label": "PER"}]},
        "offsets 5-9999 are outside the text",
    ),
    TaskType.IMAGE_CLASSIFICATION: ({"label": "pos"}, "Choose one label among: cat, dog"),
    TaskType.IMAGE_BOXES: (
        {"boxes": [{"x": 1, "y": 2, "w": 0, "h": 4, "label": "dog"}]},
        "positive width and height",
    ),
}


# --- gates named in settings ---------------------------------------------------------------


def break_gate(context):
    return Refusal(code="break", detail="Time for a paid break.", rule="breaks", until=UNTIL)


def safe_only_gate(context):
    return Restriction(
        safe_only=True, refusal=Refusal("exposure_cap", "No more today.", "caps", UNTIL)
    )


def no_gore_gate(context):
    return Restriction(
        excluded_categories=frozenset({"gore"}),
        refusal=Refusal(code="exposure_cap", detail="No gore today.", rule="caps", until=UNTIL),
    )


def recording_gate(context):
    recording_gate.calls.append(
        (context.annotator.pk, context.project.pk, context.now, getattr(context.held, "pk", None))
    )


recording_gate.calls = []
SWITCH = {"break": False}


def switchable_break_gate(context):
    return break_gate(context) if SWITCH["break"] else None


class RecordingHook:
    events: list = []

    @classmethod
    def served(cls, *, assignment, context, now):
        cls.events.append(("served", assignment.pk))

    @classmethod
    def submitted(cls, *, assignment, annotation, context, now):
        cls.events.append(("submitted", annotation.assignment_id))

    @classmethod
    def skipped(cls, *, assignment, context, now):
        cls.events.append(("skipped", assignment.pk))

    @classmethod
    def expired(cls, *, assignments, now):
        cls.events.append(("expired", sorted(a.pk for a in assignments)))

    @classmethod
    def released(cls, *, assignment, refusal, now):
        cls.events.append(("released", assignment.pk, refusal.code))


class BudgetHook:
    """Refuses from inside the claim's transaction, as a budget or a cap would."""

    @staticmethod
    def served(*, assignment, context, now):
        raise Refusal(code="budget", detail="The budget is spent.", rule="budget").as_error()


def _gates(*names: str) -> list[str]:
    return ["labeling.policies.project_open_gate", *(f"{__name__}.{n}" for n in names)]


def next_url(project) -> str:
    return f"/api/projects/{project.pk}/next/"


def submit_url(assignment_id: int) -> str:
    return f"/api/assignments/{assignment_id}/submit/"


def skip_url(assignment_id: int) -> str:
    return f"/api/assignments/{assignment_id}/skip/"


@pytest.fixture
def project(owner):
    return project_factory(owner, tasks=5, publish=True, annotations_per_task=2)


def test_a_refusing_gate_answers_409_with_rule_and_until(settings, client_for, annotator, project):
    settings.FAIRLABEL_DISPATCH_GATES = _gates("break_gate")
    response = client_for(annotator).post(next_url(project))
    assert response.status_code == 409
    body = response.json()
    assert set(body) == {"error", "detail", "until", "rule"}
    assert body["error"] == "break"
    assert body["detail"] == "Time for a paid break."
    assert datetime.fromisoformat(body["until"]) == UNTIL
    assert body["rule"].endswith("#breaks")
    assert not Assignment.objects.exists()
    assert set(Task.objects.values_list("slots_free", flat=True)) == {2}


def test_gates_run_in_settings_order_and_receive_annotator_project_time(
    settings, annotator, project
):
    recording_gate.calls.clear()
    settings.FAIRLABEL_DISPATCH_GATES = _gates("recording_gate", "break_gate")
    with pytest.raises(DomainError) as refused:
        dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    assert refused.value.code == "break"
    assert recording_gate.calls == [(annotator.pk, project.pk, T0, None)]
    settings.FAIRLABEL_DISPATCH_GATES = _gates("break_gate", "recording_gate")
    recording_gate.calls.clear()
    with pytest.raises(DomainError):
        dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    assert recording_gate.calls == []  # the first refusal stops the list


def test_a_restricting_gate_serves_only_tasks_without_sensitive_content(settings, owner, make_user):
    project = project_factory(owner, content_categories=["violence"], publish=False)
    tasks_create(
        project=project,
        rows=[
            {"data": {"text": "unmarked, so sensitive"}},
            {"data": {"text": "marked safe"}, "categories": []},
            {"data": {"text": "gore"}, "categories": ["gore"]},
            {"data": {"text": "also safe"}, "categories": []},
        ],
    )
    project.status = Project.Status.PUBLISHED
    project.save()
    settings.FAIRLABEL_DISPATCH_GATES = _gates("safe_only_gate")
    served = []
    for _ in range(2):
        user = make_user("annotator")
        served.append(dispatch.assignment_next(annotator=user, project=project).task.data["text"])
    assert sorted(served) == ["also safe", "marked safe"]
    # Nothing safe is left while sensitive tasks remain: the restriction's refusal, not 204.
    with pytest.raises(DomainError) as refused:
        dispatch.assignment_next(annotator=make_user("annotator"), project=project)
    assert (refused.value.code, refused.value.until) == ("exposure_cap", UNTIL)


def test_a_restriction_narrows_by_category(settings, owner, make_user, client_for):
    """No gore today, violence still allowed; unmarked tasks carry the project's categories."""
    project = project_factory(owner, content_categories=["violence"], publish=False)
    tasks_create(
        project=project,
        rows=[
            {"data": {"text": "gore"}, "categories": ["gore"]},
            {"data": {"text": "gore and hate"}, "categories": ["hate", "gore"]},
            {"data": {"text": "unmarked: violence"}},
            {"data": {"text": "hate"}, "categories": ["hate"]},
            {"data": {"text": "safe"}, "categories": []},
        ],
    )
    project.status = Project.Status.PUBLISHED
    project.save()
    settings.FAIRLABEL_DISPATCH_GATES = _gates("no_gore_gate")
    annotator = make_user("annotator")
    client = client_for(annotator)
    served = []
    for _ in range(3):
        body = client.post(next_url(project)).json()
        served.append(body["task"]["data"]["text"])
        client.post(skip_url(body["assignment"]))
    assert sorted(served) == ["hate", "safe", "unmarked: violence"]
    response = client.post(next_url(project))
    assert response.status_code == 409
    assert response.json()["error"] == "exposure_cap"
    assert datetime.fromisoformat(response.json()["until"]) == UNTIL
    # Without the restriction the gore tasks are served; once they are gone too, 204.
    settings.FAIRLABEL_DISPATCH_GATES = _gates()
    for _ in range(2):
        body = client.post(next_url(project)).json()
        client.post(skip_url(body["assignment"]))
    assert client.post(next_url(project)).status_code == 204


def test_a_refusal_releases_the_held_assignment(settings, annotator, project):
    settings.FAIRLABEL_DISPATCH_GATES = _gates("switchable_break_gate")
    settings.FAIRLABEL_ASSIGNMENT_HOOKS = [f"{__name__}.RecordingHook"]
    RecordingHook.events = []
    held = dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    assert Task.objects.get(pk=held.task_id).slots_free == 1
    SWITCH["break"] = True
    try:
        with pytest.raises(DomainError) as refused:
            dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    finally:
        SWITCH["break"] = False
    assert refused.value.code == "break"
    held.refresh_from_db()
    assert held.status == Assignment.Status.EXPIRED and not held.holds_slot
    assert Task.objects.get(pk=held.task_id).slots_free == 2
    assert RecordingHook.events == [("served", held.pk), ("released", held.pk, "break")]
    # The work done on it is still accepted afterwards (late submit takes the free slot back).
    outcome = dispatch.annotation_submit(
        annotator=annotator, assignment_id=held.pk, result={"label": "pos"}, now=T0
    )
    assert not outcome.is_extra


def test_gates_see_the_held_assignment_and_one_context(settings, annotator, project):
    recording_gate.calls.clear()
    settings.FAIRLABEL_DISPATCH_GATES = _gates("recording_gate", "recording_gate")
    held = dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    assert dispatch.assignment_next(annotator=annotator, project=project, now=T0).pk == held.pk
    assert recording_gate.calls[2:] == [(annotator.pk, project.pk, T0, held.pk)] * 2


def test_a_hook_refuses_from_inside_the_claims_transaction(settings, annotator, project):
    settings.FAIRLABEL_ASSIGNMENT_HOOKS = [f"{__name__}.BudgetHook"]
    with pytest.raises(DomainError) as refused:
        dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    assert refused.value.code == "budget" and refused.value.status_code == 409
    assert not Assignment.objects.exists()  # rolled back with the claim
    assert set(Task.objects.values_list("slots_free", flat=True)) == {2}


def test_an_integrity_error_other_than_holding_a_task_is_not_swallowed(
    settings, annotator, project
):
    settings.FAIRLABEL_ASSIGNMENT_HOOKS = [f"{__name__}.CheckViolationHook"]
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    assert not Assignment.objects.exists()


class CheckViolationHook:
    """A database check failing inside the claim (as a budget's CHECK would)."""

    @staticmethod
    def served(*, assignment, context, now):
        Annotation.objects.filter(pk=-1).exists()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE labeling_project SET price_per_task = -1 WHERE id = %s",
                [assignment.project_id],
            )


def test_hooks_named_in_settings_see_every_event(settings, annotator, project):
    settings.FAIRLABEL_ASSIGNMENT_HOOKS = [f"{__name__}.RecordingHook"]
    RecordingHook.events = []
    first = dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    dispatch.annotation_submit(
        annotator=annotator, assignment_id=first.pk, result={"label": "pos"}, now=T0
    )
    second = dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    dispatch.assignment_skip(annotator=annotator, assignment_id=second.pk, now=T0)
    third = dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    dispatch.assignments_expire(now=T0 + timedelta(hours=1))
    assert RecordingHook.events == [
        ("served", first.pk),
        ("submitted", first.pk),
        ("served", second.pk),
        ("skipped", second.pk),
        ("served", third.pk),
        ("expired", [third.pk]),
    ]


# --- claims ----------------------------------------------------------------------------------


def test_unpublished_project_is_refused_with_project_closed(annotator, project):
    project_pause(project=project)
    project.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        dispatch.assignment_next(annotator=annotator, project=project)
    assert refused.value.code == "project_closed"
    assert refused.value.status_code == 409
    assert refused.value.as_dict()["rule"].endswith("#project-open")


def test_api_answers_project_closed_for_a_paused_project(client_for, annotator, project):
    project_pause(project=project)
    response = client_for(annotator).post(next_url(project))
    assert response.status_code == 409
    assert response.json()["error"] == "project_closed"


def test_draft_and_paused_projects_serve_nothing_through_the_api(
    client_for, annotator, owner, project
):
    draft = project_factory(owner, tasks=2)
    project_pause(project=project)
    client = client_for(annotator)
    for closed in (draft, project):
        assert client.post(next_url(closed)).status_code in (404, 409)
    assert not Assignment.objects.exists()


def test_overlap_is_respected_and_no_task_twice_to_one_annotator(make_user, project):
    annotators = [make_user("annotator") for _ in range(3)]
    per_annotator: dict[int, list[int]] = {a.pk: [] for a in annotators}
    for _round in range(6):
        for user in annotators:
            assignment = dispatch.assignment_next(annotator=user, project=project)
            if assignment is None:
                continue
            per_annotator[user.pk].append(assignment.task_id)
            dispatch.annotation_submit(
                annotator=user, assignment_id=assignment.pk, result={"label": "neg"}
            )
    for task_ids in per_annotator.values():
        assert len(task_ids) == len(set(task_ids))
    assert sum(len(v) for v in per_annotator.values()) == 10  # 5 tasks x overlap 2
    for task in Task.objects.all():
        assert task.annotation_count == 2
        assert task.slots_free == 0
        assert task.annotations.count() == 2
    for user in annotators:
        assert dispatch.assignment_next(annotator=user, project=project) is None


def test_the_open_assignment_is_returned_again(annotator, project):
    first = dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    again = dispatch.assignment_next(
        annotator=annotator, project=project, now=T0 + timedelta(minutes=5)
    )
    assert again.pk == first.pk
    assert again.task.pk == first.task_id
    assert Assignment.objects.count() == 1
    assert Task.objects.get(pk=first.task_id).slots_free == 1
    assert sum(Task.objects.values_list("slots_free", flat=True)) == 9


def test_prefers_tasks_closest_to_done(make_user, owner):
    project = project_factory(owner, tasks=4, publish=True, annotations_per_task=3)
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    Task.objects.filter(pk=tasks[2].pk).update(slots_free=1)
    Task.objects.filter(pk=tasks[3].pk).update(slots_free=2)
    served = [
        dispatch.assignment_next(annotator=make_user("annotator"), project=project).task_id
        for _ in range(4)
    ]
    # task 3 then task 4 (one slot left after the second claim), then the untouched ones
    assert served == [tasks[2].pk, tasks[3].pk, tasks[3].pk, tasks[0].pk]


def test_an_annotator_ahead_of_the_others_still_gets_fresh_work_then_the_rest(make_user, owner):
    """Tasks it did with slots still free sort first; the dispatcher must walk past them."""
    project = project_factory(
        owner, tasks=dispatch.HEAD_WINDOW + 20, publish=True, annotations_per_task=2
    )
    fast, slow = make_user("annotator"), make_user("annotator")
    done = []
    while (assignment := dispatch.assignment_next(annotator=fast, project=project)) is not None:
        done.append(assignment.task_id)
        dispatch.annotation_submit(
            annotator=fast, assignment_id=assignment.pk, result={"label": "pos"}
        )
    assert sorted(done) == sorted(Task.objects.values_list("id", flat=True))
    later = dispatch.assignment_next(annotator=slow, project=project)
    assert later.task_id == min(done)  # closest to done, oldest first


def test_204_when_nothing_is_left(client_for, annotator, owner):
    project = project_factory(owner, tasks=1, publish=True)
    client = client_for(annotator)
    first = client.post(next_url(project))
    assert first.status_code == 200
    assert (
        client.post(
            submit_url(first.json()["assignment"]), {"result": {"label": "pos"}}, format="json"
        ).status_code
        == 201
    )
    response = client.post(next_url(project))
    assert response.status_code == 204
    assert response.content == b""


def test_next_payload_shape(client_for, annotator, project):
    response = client_for(annotator).post(next_url(project))
    assert response.status_code == 200
    body = response.json()
    assignment = Assignment.objects.get()
    assert body["assignment"] == assignment.pk
    assert body["task"]["id"] == assignment.task_id
    assert body["task"]["data"] == assignment.task.data
    assert body["categories"] == []
    assert body["protect"]["sensitive"] is False
    assert datetime.fromisoformat(body["expires_at"]) == assignment.expires_at


# --- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "auditor", "admin", None])
def test_only_annotators_ask_submit_or_skip(
    role, make_user, client_for, api_client, annotator, project
):
    assignment = dispatch.assignment_next(annotator=annotator, project=project)
    client = client_for(make_user(role)) if role else api_client
    expected = 403 if role else 401
    for url, body in (
        (next_url(project), None),
        (submit_url(assignment.pk), {"result": {"label": "pos"}}),
        (skip_url(assignment.pk), None),
    ):
        response = client.post(url, body, format="json")
        assert response.status_code == expected, (url, response.content)
        assert response.json()["error"] in ("permission_denied", "not_authenticated")
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.OPEN
    assert Assignment.objects.count() == 1
    assert not Annotation.objects.exists()


def test_another_annotators_assignment_is_not_found(make_user, client_for, annotator, project):
    assignment = dispatch.assignment_next(annotator=annotator, project=project)
    intruder = client_for(make_user("annotator"))
    for url, body in (
        (submit_url(assignment.pk), {"result": {"label": "pos"}}),
        (skip_url(assignment.pk), None),
    ):
        response = intruder.post(url, body, format="json")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.OPEN
    assert not Annotation.objects.exists()


# --- submit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("task_type", list(TaskType))
def test_submit_validates_the_result_for_each_task_type(task_type, owner, annotator, client_for):
    project = project_factory(owner, task_type=task_type, tasks=1, publish=True)
    client = client_for(annotator)
    assignment_id = client.post(next_url(project)).json()["assignment"]
    bad, message = BAD[task_type]
    response = client.post(submit_url(assignment_id), {"result": bad}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_result"
    assert message in body["detail"]
    assert not Annotation.objects.exists()
    not_an_object = client.post(submit_url(assignment_id), {"result": ["pos"]}, format="json")
    assert not_an_object.status_code == 400
    assert "JSON object" in not_an_object.json()["detail"]
    missing = client.post(submit_url(assignment_id), {}, format="json")
    assert missing.status_code == 400
    assert missing.json()["detail"].startswith("result:")
    ok = client.post(submit_url(assignment_id), {"result": GOOD[task_type]}, format="json")
    assert ok.status_code == 201, ok.content


def test_submit_is_idempotent(client_for, annotator, project):
    client = client_for(annotator)
    assignment_id = client.post(next_url(project)).json()["assignment"]
    first = client.post(submit_url(assignment_id), {"result": {"label": "pos"}}, format="json")
    again = client.post(submit_url(assignment_id), {"result": {"label": "neg"}}, format="json")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["result"] == {"label": "pos"}
    assert Annotation.objects.count() == 1
    assert Task.objects.get(pk=first.json()["task"]).annotation_count == 1


def test_seconds_are_measured_on_the_server_from_serving(client_for, annotator, project):
    client = client_for(annotator)
    with time_machine.travel(T0, tick=False):
        assignment_id = client.post(next_url(project)).json()["assignment"]
    with time_machine.travel(T0 + timedelta(seconds=42, milliseconds=250), tick=False):
        response = client.post(
            submit_url(assignment_id), {"result": {"label": "pos"}, "seconds": 1}, format="json"
        )
    assert response.status_code == 201
    assert response.json()["seconds"] == "42.250"
    assert Annotation.objects.get().seconds == Decimal("42.250")


def test_expired_submit_is_accepted_while_its_slot_is_free(annotator, owner):
    project = project_factory(owner, tasks=1, publish=True)
    assignment = dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    assert dispatch.assignments_expire(now=T0 + timedelta(minutes=11)) == 1
    assert Task.objects.get().slots_free == 1
    outcome = dispatch.annotation_submit(
        annotator=annotator,
        assignment_id=assignment.pk,
        result={"label": "pos"},
        now=T0 + timedelta(minutes=12),
    )
    assert outcome.created and not outcome.is_extra
    task = Task.objects.get()
    assert (task.slots_free, task.annotation_count) == (0, 1)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED and assignment.holds_slot


def test_expired_submit_after_the_slot_went_elsewhere_is_kept_as_extra(
    client_for, make_user, owner
):
    project = project_factory(owner, tasks=1, publish=True)
    late, other = make_user("annotator"), make_user("annotator")
    with time_machine.travel(T0, tick=False):
        late_id = client_for(late).post(next_url(project)).json()["assignment"]
    with time_machine.travel(T0 + timedelta(minutes=11), tick=False):
        assert dispatch.assignments_expire() == 1
        other_id = client_for(other).post(next_url(project)).json()["assignment"]
        response = client_for(late).post(
            submit_url(late_id), {"result": {"label": "neg"}}, format="json"
        )
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "slot_taken"
    assert body["annotation"]["is_extra"] is True
    kept = Annotation.objects.get(pk=body["annotation"]["id"])
    assert kept.is_extra and kept.result == {"label": "neg"}
    assert Task.objects.get().annotation_count == 0
    ok = client_for(other).post(submit_url(other_id), {"result": {"label": "pos"}}, format="json")
    assert ok.status_code == 201
    task = Task.objects.get()
    assert (task.annotation_count, task.slots_free) == (1, 0)
    assert Annotation.objects.count() == 2


# --- skip ----------------------------------------------------------------------------------


def test_skip_releases_the_slot_without_penalty_and_never_shows_the_task_again(
    client_for, annotator, owner
):
    project = project_factory(owner, tasks=2, publish=True)
    client = client_for(annotator)
    first = client.post(next_url(project)).json()
    response = client.post(skip_url(first["assignment"]))
    assert response.status_code == 200
    assert response.json() == {"assignment": first["assignment"], "status": "skipped"}
    assert client.post(skip_url(first["assignment"])).status_code == 200  # idempotent
    assert Task.objects.get(pk=first["task"]["id"]).slots_free == 1
    second = client.post(next_url(project)).json()
    assert second["task"]["id"] != first["task"]["id"]
    client.post(skip_url(second["assignment"]))
    assert client.post(next_url(project)).status_code == 204
    late = client.post(submit_url(first["assignment"]), {"result": {"label": "pos"}}, format="json")
    assert late.status_code == 409
    assert late.json()["error"] == "skipped"


def test_a_submitted_assignment_cannot_be_skipped(client_for, annotator, project):
    client = client_for(annotator)
    assignment_id = client.post(next_url(project)).json()["assignment"]
    client.post(submit_url(assignment_id), {"result": {"label": "pos"}}, format="json")
    response = client.post(skip_url(assignment_id))
    assert response.status_code == 409
    assert response.json()["error"] == "already_submitted"


# --- query counts --------------------------------------------------------------------------


def _cycle_queries(client, project, django_assert_max_num_queries, bound_next, bound_submit):
    for _ in range(3):
        with django_assert_max_num_queries(bound_next):
            body = client.post(next_url(project)).json()
        with django_assert_max_num_queries(bound_submit):
            response = client.post(
                submit_url(body["assignment"]), {"result": {"label": "pos"}}, format="json"
            )
        assert response.status_code == 201


# With every gate of the working-time issue on. next: auth token + role + time zone, project,
# held assignment, policy overrides, the working-time state with the annotator's consent for the
# project (one query for both gates); the claim: SELECT,
# UPDATE, INSERT; the hook: locked state, span UPDATE, state UPDATE (+ savepoint pair inside
# the test transaction; + SET LOCAL synchronous_commit on PostgreSQL). Fair pay: the
# annotator's floor (profile and country floor in one query), the budget gate's check; the
# reservation: the slice UPDATE, its INSERT, and the ledger entry (chain head lock, INSERT, head
# UPDATE).
NEXT_QUERIES = 20
# auth token + role + time zone, then the locked assignment, its project, its task's data, the
# policies, INSERT, two UPDATEs; the hook: locked state, span UPDATE, state UPDATE (+ savepoint
# pair): plain statements, cheaper to run than one joined ORM query. Fair pay: the locked
# reservation closed and read back, the slice UPDATE for the release, the entries (head lock,
# INSERT, head UPDATE).
SUBMIT_QUERIES = 18


@pytest.mark.parametrize("size", [10, 2000])
def test_query_count_per_call_does_not_depend_on_project_size(
    size, owner, make_user, client_for, django_assert_max_num_queries
):
    project = project_factory(owner, tasks=size, publish=True, annotations_per_task=3)
    for _ in range(3):  # some history: other annotators' work and a skip
        other = make_user("annotator")
        assignment = dispatch.assignment_next(annotator=other, project=project)
        dispatch.annotation_submit(
            annotator=other, assignment_id=assignment.pk, result={"label": "pos"}
        )
    client = client_for(make_user("annotator"))
    # The page starts with a heartbeat (here on the instructions): the session is open.
    beat = {"project": project.pk, "kind": "instructions"}
    assert client.post("/api/heartbeat/", beat).status_code == 200
    postgres = connection.vendor == "postgresql"
    _cycle_queries(
        client, project, django_assert_max_num_queries, NEXT_QUERIES + postgres, SUBMIT_QUERIES
    )


# --- expiry --------------------------------------------------------------------------------


def test_an_abandoned_assignment_returns_to_the_queue_after_the_lifetime(
    settings, make_user, owner
):
    settings.FAIRLABEL_ASSIGNMENT_MINUTES = Decimal("0.5")
    project = project_factory(owner, tasks=1, publish=True)
    gone, waiting = make_user("annotator"), make_user("annotator")
    abandoned = dispatch.assignment_next(annotator=gone, project=project, now=T0)
    assert abandoned.expires_at == T0 + timedelta(seconds=30)
    assert dispatch.assignment_next(annotator=waiting, project=project, now=T0) is None
    assert dispatch.assignments_expire(now=T0 + timedelta(seconds=29)) == 0
    assert dispatch.assignments_expire(now=T0 + timedelta(seconds=30)) == 1
    assert dispatch.assignments_expire(now=T0 + timedelta(seconds=31)) == 0  # idempotent
    served = dispatch.assignment_next(
        annotator=waiting, project=project, now=T0 + timedelta(seconds=31)
    )
    assert served.task_id == abandoned.task_id
    abandoned.refresh_from_db()
    assert abandoned.status == Assignment.Status.EXPIRED and not abandoned.holds_slot
    # the one who abandoned it never gets it back
    dispatch.assignments_expire(now=T0 + timedelta(hours=1))
    assert (
        dispatch.assignment_next(annotator=gone, project=project, now=T0 + timedelta(hours=1))
        is None
    )


def test_an_expired_open_assignment_is_released_when_its_owner_asks_again(annotator, owner):
    project = project_factory(owner, tasks=2, publish=True)
    first = dispatch.assignment_next(annotator=annotator, project=project, now=T0)
    later = T0 + timedelta(minutes=10, seconds=1)
    second = dispatch.assignment_next(annotator=annotator, project=project, now=later)
    assert second.pk != first.pk and second.task_id != first.task_id
    first.refresh_from_db()
    assert first.status == Assignment.Status.EXPIRED
    assert Task.objects.get(pk=first.task_id).slots_free == 1
    assert dispatch.assignment_next(annotator=annotator, project=project, now=later).pk == second.pk


def test_the_beat_job_expires_through_celery(settings, annotator, owner):
    from labeling.tasks import expire_assignments

    assert "labeling.expire_assignments" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    project = project_factory(owner, tasks=1, publish=True)
    with time_machine.travel(T0, tick=False):
        dispatch.assignment_next(annotator=annotator, project=project)
    with time_machine.travel(T0 + timedelta(minutes=11), tick=False):
        assert expire_assignments.delay().get() == 1
        assert expire_assignments.apply().get() == 0
    assert Task.objects.get().slots_free == 1
    assert Assignment.objects.get().status == Assignment.Status.EXPIRED


def test_submit_and_skip_can_bring_the_next_task_in_the_same_response(client_for, annotator):
    project = project_factory(tasks=3, publish=True)
    api = client_for(annotator)
    first = api.post(f"/api/projects/{project.pk}/next/").json()
    submitted = api.post(
        f"/api/assignments/{first['assignment']}/submit/",
        {"result": {"label": "pos"}, "next": True},
        format="json",
    )
    assert submitted.status_code == 201
    second = submitted.json()["next"]
    assert second["status"] == 200
    assert second["body"]["task"]["id"] != first["task"]["id"]
    # The next task is really claimed: asking again returns the same open assignment.
    again = api.post(f"/api/projects/{project.pk}/next/").json()
    assert again["assignment"] == second["body"]["assignment"]
    skipped = api.post(
        f"/api/assignments/{again['assignment']}/skip/", {"next": True}, format="json"
    ).json()
    assert skipped["status"] == "skipped"
    third = skipped["next"]["body"]
    assert third["task"]["id"] not in {first["task"]["id"], again["task"]["id"]}
    done = api.post(
        f"/api/assignments/{third['assignment']}/submit/",
        {"result": {"label": "neg"}, "next": True},
        format="json",
    ).json()
    assert done["next"] == {"status": 204, "body": None}
    plain = api.post(
        f"/api/assignments/{third['assignment']}/submit/",
        {"result": {"label": "neg"}},
        format="json",
    )
    assert plain.status_code == 200
    assert "next" not in plain.json()


def test_next_in_a_submit_reports_a_refusal(client_for, annotator):
    project = project_factory(tasks=2, publish=True)
    api = client_for(annotator)
    first = api.post(f"/api/projects/{project.pk}/next/").json()
    project_pause(project=project)
    body = api.post(
        f"/api/assignments/{first['assignment']}/submit/",
        {"result": {"label": "pos"}, "next": True},
        format="json",
    ).json()
    assert body["next"]["status"] == 409
    assert body["next"]["body"]["error"] == "project_closed"


def test_a_database_error_on_the_next_task_keeps_the_submit(client_for, annotator, monkeypatch):
    from django.db import OperationalError

    project = project_factory(tasks=2, publish=True)
    api = client_for(annotator)
    first = api.post(f"/api/projects/{project.pk}/next/").json()

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(dispatch, "assignment_next", locked)
    response = api.post(
        f"/api/assignments/{first['assignment']}/submit/",
        {"result": {"label": "pos"}, "next": True},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["next"]["status"] == 503
    assert Annotation.objects.filter(assignment_id=first["assignment"]).count() == 1
