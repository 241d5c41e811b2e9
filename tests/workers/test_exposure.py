"""Exposure: consent, caps on sensitive time, the cool-down, recovery controls and flags, through
the dispatcher's exposure gate. Times are explicit (`now=`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from fairlabel.errors import DomainError
from labeling import dispatch
from labeling.models import Assignment, Project, Task, TaskFlag
from labeling.services import task_flag, tasks_create
from tests.factories import project_factory
from workers import services
from workers.models import Break, ConsentEvent, RefusalDay, WorkDay

pytestmark = pytest.mark.django_db

T0 = datetime(2030, 6, 3, 8, 0, tzinfo=UTC)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def mixed_project(owner, *, sensitive=20, safe=2, categories=("violence",)):
    """A project declaring `categories`: unmarked rows carry them, `[]` rows are safe."""
    project = project_factory(owner, content_categories=list(categories))
    rows = [{"data": {"text": f"sensitive {n}"}} for n in range(sensitive)]
    rows += [{"data": {"text": f"safe {n}"}, "categories": []} for n in range(safe)]
    tasks_create(project=project, rows=rows)
    project.status = Project.Status.PUBLISHED
    project.save()
    return project


def next_at(annotator, project, t):
    return dispatch.assignment_next(annotator=annotator, project=project, now=t)


def refused_at(annotator, project, t) -> DomainError:
    with pytest.raises(DomainError) as refused:
        next_at(annotator, project, t)
    assert refused.value.status_code == 409
    return refused.value


def label(annotator, assignment, t):
    dispatch.annotation_submit(
        annotator=annotator, assignment_id=assignment.pk, result={"label": "pos"}, now=t
    )


def test_without_consent_only_safe_tasks_then_consent_required(owner, annotator):
    project = mixed_project(owner, sensitive=3, safe=2)
    served = []
    t = T0
    for _ in range(2):
        assignment = next_at(annotator, project, t)
        served.append(assignment.task.data["text"])
        t += s(20)
        label(annotator, assignment, t)
    assert sorted(served) == ["safe 0", "safe 1"]
    refusal = refused_at(annotator, project, t)
    assert refusal.code == "consent_required" and refusal.rule.endswith("#consent")
    services.consent_set(annotator=annotator, project=project, categories=["violence"])
    assert next_at(annotator, project, t).task.data["text"].startswith("sensitive")


def test_withdrawal_is_immediate_and_releases_the_task_in_hand(owner, annotator, client_for):
    project = mixed_project(owner, sensitive=3, safe=1)
    client = client_for(annotator)
    consent = client.post(
        f"/api/projects/{project.pk}/consent/", {"categories": ["violence"]}, format="json"
    )
    assert consent.status_code == 200 and consent.json()["consented"] == ["violence"]
    held = next_at(annotator, project, T0)
    assert held.task.is_sensitive
    withdrawn = client.post(
        f"/api/projects/{project.pk}/consent/", {"categories": []}, format="json"
    )
    assert withdrawn.json()["consented"] == []
    safe = next_at(annotator, project, T0 + s(5))
    assert safe.task.data["text"] == "safe 0"
    held.refresh_from_db()
    assert held.status == Assignment.Status.EXPIRED
    events = list(ConsentEvent.objects.order_by("at").values_list("given", "withdrawn"))
    assert events == [(["violence"], []), ([], ["violence"])]
    listing = client.get(f"/api/projects/{project.pk}/consent/").json()
    assert listing["categories"] == [{"name": "violence", "label": "Violence", "consented": False}]


def test_the_daily_cap_serves_safe_tasks_then_refuses_until_local_midnight(
    settings, owner, make_user
):
    settings.FAIRLABEL_SENSITIVE_DAILY_HOURS = Decimal("0.01")  # 36 seconds
    annotator = make_user("annotator", timezone="America/New_York")
    project = mixed_project(owner, sensitive=10, safe=1)
    services.consent_set(annotator=annotator, project=project, categories=["violence"])
    t = T0
    for _ in range(2):  # 2 x 20 s of sensitive work
        held = next_at(annotator, project, t)
        assert held.task.is_sensitive
        t += s(20)
        label(annotator, held, t)
    assert services.work_standing(annotator=annotator, now=t).sensitive_seconds == 40
    assert next_at(annotator, project, t).task.data["text"] == "safe 0"  # safe work goes on
    t += s(10)
    label(annotator, Assignment.objects.get(annotator=annotator, status="open"), t)
    refusal = refused_at(annotator, project, t)
    assert refusal.code == "exposure_cap" and refusal.rule.endswith("#exposure-caps")
    # Counted for the auditors, on the annotator's local day (New York: still June 3rd).
    counted = RefusalDay.objects.get(annotator=annotator)
    assert (counted.code, counted.count, str(counted.day)) == ("exposure_cap", 1, "2030-06-03")
    # Until midnight in New York (04:00 UTC in June), not in UTC.
    assert refusal.until == datetime(2030, 6, 4, 4, 0, tzinfo=UTC)
    assert next_at(annotator, project, refusal.until).task.is_sensitive


def test_a_per_category_cap_leaves_the_other_categories(settings, owner, annotator):
    settings.FAIRLABEL_CATEGORY_DAILY_HOURS = ["gore=0.01"]
    project = project_factory(owner, content_categories=["gore", "violence"])
    tasks_create(
        project=project,
        rows=[{"data": {"text": f"gore {n}"}, "categories": ["gore"]} for n in range(3)]
        + [{"data": {"text": f"violence {n}"}, "categories": ["violence"]} for n in range(3)],
    )
    project.status = Project.Status.PUBLISHED
    project.save()
    services.consent_set(annotator=annotator, project=project, categories=["gore", "violence"])
    t = T0
    held = next_at(annotator, project, t)
    assert held.task.data["text"] == "gore 0"
    t += s(40)
    services.heartbeat_record(annotator=annotator, now=t - s(20), assignment_id=held.pk)
    label(annotator, held, t)
    for _ in range(3):
        held = next_at(annotator, project, t)
        assert held.task.data["text"].startswith("violence")
        t += s(5)
        label(annotator, held, t)
    assert refused_at(annotator, project, t).code == "exposure_cap"


def test_after_a_run_of_sensitive_items_a_cool_down(settings, owner, annotator):
    settings.FAIRLABEL_SENSITIVE_STREAK = 3
    settings.FAIRLABEL_COOLDOWN_MINUTES = Decimal("5")
    project = mixed_project(owner, sensitive=10, safe=1)
    services.consent_set(annotator=annotator, project=project, categories=["violence"])
    t = T0
    for _ in range(3):
        held = next_at(annotator, project, t)
        assert held.task.is_sensitive
        t += s(10)
        label(annotator, held, t)
    held = next_at(annotator, project, t)
    assert not held.task.is_sensitive  # the next one is safe
    t += s(10)
    label(annotator, held, t)  # a safe item ends the run
    held = next_at(annotator, project, t)
    assert held.task.is_sensitive
    for _ in range(2):
        t += s(10)
        label(annotator, held, t)
        held = next_at(annotator, project, t)
    t += s(10)
    label(annotator, held, t)
    refusal = refused_at(annotator, project, t)  # no safe task left: the cool-down
    assert refusal.code == "exposure_cap" and refusal.rule.endswith("#cool-down")
    assert refusal.until == t + timedelta(minutes=5)
    assert next_at(annotator, project, refusal.until).task.is_sensitive


def run_into_the_cool_down(settings, owner, annotator, *, safe=0):
    """Three sensitive items in a row (the streak), on a project with `safe` safe tasks: returns
    (project, the time of the last submit)."""
    settings.FAIRLABEL_SENSITIVE_STREAK = 3
    settings.FAIRLABEL_COOLDOWN_MINUTES = Decimal("5")
    project = mixed_project(owner, sensitive=10, safe=safe)
    services.consent_set(annotator=annotator, project=project, categories=["violence"])
    t = T0
    for _ in range(3):
        held = next_at(annotator, project, t)
        t += s(10)
        label(annotator, held, t)
    return project, t


def test_waiting_out_the_cool_down_is_one_paid_break(settings, owner, annotator, client_for):
    project, t = run_into_the_cool_down(settings, owner, annotator)
    refusal = refused_at(annotator, project, t)
    until = t + timedelta(minutes=5)
    assert refusal.until == until and refusal.rule.endswith("#cool-down")
    # Asked again and again (the page retries; an API client polls): still one break.
    assert refused_at(annotator, project, t + s(30)).until == until
    assert refused_at(annotator, project, t + s(200)).until == until
    (cooldown,) = Break.objects.filter(annotator=annotator)
    assert (cooldown.kind, cooldown.started_at, cooldown.ends_at) == ("cooldown", t, until)
    assert cooldown.paid_seconds == Decimal("300.000") and cooldown.ended_at is None
    standing = services.work_standing(annotator=annotator, now=t + s(60))
    # Counted like any break, shown like one, but not a stop: no working-time refusal.
    assert standing.break_kind == "cooldown" and standing.break_until == until
    assert standing.today_break_seconds == Decimal("300.000") and standing.refusal is None
    with time_machine.travel(t + s(60), tick=False):
        beat = client_for(annotator).get("/api/heartbeat/").json()
    assert beat["break_kind"] == "cooldown" and beat["refusal"] is None
    assert Decimal(beat["paid_seconds_today"]) == Decimal(beat["today_seconds"]) + 300
    # Once it is over, sensitive tasks come back and the break was paid in full.
    assert next_at(annotator, project, until).task.is_sensitive
    cooldown.refresh_from_db()
    assert cooldown.ended_at is None and cooldown.paid_seconds == Decimal("300.000")
    services.work_days_rebuild(annotator_ids=[annotator.pk], first=T0.date(), last=T0.date())
    assert WorkDay.objects.get(annotator=annotator).break_seconds == Decimal("300.000")


def test_the_cool_down_break_ends_when_the_annotator_works_again(settings, owner, annotator):
    project, t = run_into_the_cool_down(settings, owner, annotator)
    other = mixed_project(owner, sensitive=0, safe=3)
    refused_at(annotator, project, t)
    # Two minutes later it works on another project's safe task: the break ends there.
    resumed = t + s(120)
    assert not next_at(annotator, other, resumed).task.is_sensitive
    (first,) = Break.objects.filter(annotator=annotator)
    assert (first.ended_at, first.paid_seconds) == (resumed, Decimal("120.000"))
    assert services.work_standing(annotator=annotator, now=resumed).today_break_seconds == (
        Decimal("120.000")
    )
    # Back to the first project, still in the cool-down: a new break from then, no overlap.
    # (Labeling the safe task would have ended the run of sensitive items, and the cool-down.)
    again = resumed + s(20)
    assert refused_at(annotator, project, again).until == t + timedelta(minutes=5)
    first_break, second = Break.objects.filter(annotator=annotator).order_by("started_at")
    assert second.kind == "cooldown" and second.started_at == again >= first_break.ended_at
    assert second.ends_at == t + timedelta(minutes=5)
    assert second.paid_seconds == Decimal("160.000")
    services.work_days_rebuild(annotator_ids=[annotator.pk], first=T0.date(), last=T0.date())
    assert WorkDay.objects.get(annotator=annotator).break_seconds == Decimal("280.000")


def test_safe_tasks_left_mean_no_cool_down_break(settings, owner, annotator):
    project, t = run_into_the_cool_down(settings, owner, annotator, safe=2)
    assert not next_at(annotator, project, t).task.is_sensitive
    assert not Break.objects.filter(annotator=annotator).exists()


def test_a_recovery_break_taken_in_the_cool_down_replaces_it(
    settings, owner, annotator, client_for
):
    project, t = run_into_the_cool_down(settings, owner, annotator)
    refused_at(annotator, project, t)
    with time_machine.travel(t + s(60), tick=False):
        taken = client_for(annotator).post("/api/breaks/", {"kind": "recovery"}, format="json")
    assert taken.status_code == 201 and taken.json()["break_kind"] == "recovery"
    cooldown, recovery = Break.objects.filter(annotator=annotator).order_by("started_at")
    assert cooldown.kind == "cooldown" and cooldown.ended_at == t + s(60)
    assert cooldown.paid_seconds == Decimal("60.000")
    assert recovery.kind == "recovery" and recovery.started_at == t + s(60)
    # During the recovery break the refusal is the break's: no cool-down break on top of it.
    assert refused_at(annotator, project, t + s(120)).code == "break"
    assert Break.objects.filter(annotator=annotator).count() == 2


def test_the_cool_down_break_cannot_be_ended_like_a_chosen_break(
    settings, owner, annotator, client_for
):
    project, t = run_into_the_cool_down(settings, owner, annotator)
    refused_at(annotator, project, t)
    with time_machine.travel(t + s(30), tick=False):
        ended = client_for(annotator).post("/api/breaks/end/")
    assert ended.status_code == 409 and ended.json()["error"] == "break_due"


def test_stop_sensitive_today_takes_effect_at_once(client_for, owner, annotator):
    project = mixed_project(owner, sensitive=3, safe=1)
    services.consent_set(annotator=annotator, project=project, categories=["violence"])
    client = client_for(annotator)
    with time_machine.travel(T0, tick=False):
        held = client.post(f"/api/projects/{project.pk}/next/").json()
        assert held["protect"]["sensitive"] is True
        stop = client.post("/api/breaks/", {"kind": "stop_sensitive_today"}, format="json")
        assert stop.status_code == 201
        safe = client.post(f"/api/projects/{project.pk}/next/").json()
        assert safe["task"]["data"]["text"] == "safe 0"
        assert Assignment.objects.get(pk=held["assignment"]).status == "expired"
        client.post(f"/api/assignments/{safe['assignment']}/skip/")
        refused = client.post(f"/api/projects/{project.pk}/next/")
    assert refused.status_code == 409 and refused.json()["rule"].endswith("#recovery")
    assert datetime.fromisoformat(refused.json()["until"]) == datetime(2030, 6, 4, tzinfo=UTC)


def test_a_recovery_break_can_be_ended_early(client_for, owner, annotator):
    project = mixed_project(owner, sensitive=3, safe=0)
    services.consent_set(annotator=annotator, project=project, categories=["violence"])
    client = client_for(annotator)
    with time_machine.travel(T0, tick=False):
        client.post(f"/api/projects/{project.pk}/next/")
        taken = client.post("/api/breaks/", {"kind": "recovery"}, format="json").json()
        assert datetime.fromisoformat(taken["break_until"]) == T0 + timedelta(minutes=15)
        assert client.post(f"/api/projects/{project.pk}/next/").json()["error"] == "break"
    with time_machine.travel(T0 + s(60), tick=False):
        assert client.post("/api/breaks/end/").status_code == 200
        assert client.post(f"/api/projects/{project.pk}/next/").status_code == 200
    bad = client.post("/api/breaks/", {"kind": "nap"}, format="json")
    assert bad.status_code == 400


def test_a_flag_changes_what_others_are_served(client_for, owner, make_user):
    project = mixed_project(owner, sensitive=0, safe=3, categories=("violence",))
    first, second = make_user("annotator"), make_user("annotator")
    held = next_at(first, project, T0)
    response = client_for(first).post(
        f"/api/assignments/{held.pk}/flag/", {"category": "gore"}, format="json"
    )
    assert response.status_code == 200 and response.json()["categories"] == ["gore"]
    task = Task.objects.get(pk=held.task_id)
    assert task.categories == ["gore"] and task.is_sensitive
    assert TaskFlag.objects.get().annotator == first
    task_flag(annotator=first, assignment_id=held.pk, category="gore")  # twice: no change
    assert TaskFlag.objects.count() == 1
    dispatch.assignment_skip(annotator=first, assignment_id=held.pk, now=T0)
    # Another annotator who consented to violence only is never served the flagged task.
    services.consent_set(annotator=second, project=project, categories=["violence"])
    seen = set()
    for n in range(2):
        assignment = next_at(second, project, T0 + s(n))
        seen.add(assignment.task_id)
        dispatch.assignment_skip(annotator=second, assignment_id=assignment.pk, now=T0 + s(n))
    assert held.task_id not in seen
    assert refused_at(second, project, T0 + s(5)).code == "consent_required"
    bad = client_for(first).post(
        f"/api/assignments/{held.pk}/flag/", {"category": "boring"}, format="json"
    )
    assert bad.status_code == 400
    # The flagged category can be agreed to like a declared one, and then it is served.
    consent = client_for(second).get(f"/api/projects/{project.pk}/consent/").json()
    assert [c["name"] for c in consent["categories"]] == ["violence", "gore"]
    services.consent_set(annotator=second, project=project, categories=["violence", "gore"])
    assert next_at(second, project, T0 + s(6)).task_id == held.task_id


def test_the_consent_page_lists_the_categories_of_the_tasks_left(client_for, owner, annotator):
    """An import row may carry a category its project does not declare: the annotator is asked
    about it too, as long as such a task is left to do."""
    project = project_factory(owner, content_categories=["violence"])
    tasks_create(
        project=project,
        rows=[
            {"data": {"text": "declared"}},
            {"data": {"text": "own"}, "categories": ["self_harm", "hate"]},
        ],
    )
    project.status = Project.Status.PUBLISHED
    project.save()
    url = f"/api/projects/{project.pk}/consent/"
    listed = client_for(annotator).get(url).json()["categories"]
    assert [c["name"] for c in listed] == ["violence", "self_harm", "hate"]
    Task.objects.filter(project=project, categories__isnull=False).update(slots_free=0)
    listed = client_for(annotator).get(url).json()["categories"]
    assert [c["name"] for c in listed] == ["violence"]


def test_sensitive_time_is_counted_per_category_in_the_standing(owner, annotator, client_for):
    project = mixed_project(owner, sensitive=3, safe=0, categories=("violence", "hate"))
    services.consent_set(annotator=annotator, project=project, categories=["violence", "hate"])
    held = next_at(annotator, project, T0)
    services.heartbeat_record(annotator=annotator, now=T0 + s(30), assignment_id=held.pk)
    from workers.models import WorkState

    state = WorkState.objects.get(annotator=annotator)
    assert state.day_sensitive_seconds == 30
    assert state.day_category_seconds == {"hate": "30.000", "violence": "30.000"}
    with time_machine.travel(T0 + s(30), tick=False):
        standing = client_for(annotator).get("/api/heartbeat/").json()
    assert standing["sensitive_seconds_today"] == "30.000"
    # The daily roll-up rebuilds the same figures from the raw records.
    services.work_days_rebuild(annotator_ids=[annotator.pk], first=T0.date(), last=T0.date())
    from workers.models import WorkDay

    day = WorkDay.objects.get(annotator=annotator)
    assert day.sensitive_seconds == 30
    assert day.category_seconds == {"hate": "30.000", "violence": "30.000"}


def test_owners_see_flags_and_sensitive_content_protected(client, owner, make_user, client_for):
    project = mixed_project(owner, sensitive=1, safe=1)
    annotator = make_user("annotator")
    safe = next_at(annotator, project, T0)
    assert not safe.task.is_sensitive
    task_flag(annotator=annotator, assignment_id=safe.pk, category="hate", now=T0)
    client.force_login(owner)
    page = client.get(f"/projects/{project.pk}/tasks/{safe.task_id}/").content.decode()
    assert 'data-testid="flags"' in page and "Hate" in page  # its name, not the code
    assert 'data-testid="protected-text"' in page  # hidden behind its warning
    assert annotator.username not in page
    body = client_for(owner).get(f"/api/projects/{project.pk}/tasks/{safe.task_id}/").json()
    assert [f["category"] for f in body["flags"]] == ["hate"]
    assert body["categories"] == ["hate"]


def _image_project(owner, categories):
    import io
    import zipfile

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import TestCase
    from PIL import Image

    from labeling.importing.services import import_job_create

    project = project_factory(
        owner, task_type="image_classification", content_categories=categories
    )
    png = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(png, "PNG")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.png", png.getvalue())
    with TestCase.captureOnCommitCallbacks(execute=True):
        import_job_create(
            project=project,
            user=owner,
            file=SimpleUploadedFile("pics.zip", archive.getvalue()),
        )
    Project.objects.filter(pk=project.pk).update(status=Project.Status.PUBLISHED)
    project.refresh_from_db()
    return project


def test_an_image_is_served_to_the_annotator_holding_its_task_with_consent(
    owner, make_user, client_for
):
    project = _image_project(owner, ["gore"])
    url = project.tasks.get().data["image"]
    holder, other = make_user("annotator"), make_user("annotator")
    services.consent_set(annotator=holder, project=project, categories=["gore"])
    assert client_for(holder).get(url).status_code == 404  # not served to it yet
    next_at(holder, project, T0)
    response = client_for(holder).get(url)  # the API client's token, no session
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert client_for(other).get(url).status_code == 404
    assert client_for(owner).get(url).status_code == 200
    # Withdrawing consent withdraws access at once.
    services.consent_set(annotator=holder, project=project, categories=[])
    assert client_for(holder).get(url).status_code == 404
    from rest_framework.test import APIClient

    assert APIClient().get(url, HTTP_AUTHORIZATION="Token nope").status_code == 401


def test_blur_strength_is_kept_on_the_server_and_sent_with_blurred_tasks(
    client_for, owner, annotator, make_user
):
    project = project_factory(owner, task_type="image_classification", content_categories=["gore"])
    tasks_create(
        project=project,
        rows=[{"data": {"image": f"https://img.example/{n}.png"}} for n in range(2)]
        + [{"data": {"image": "https://img.example/safe.png"}, "categories": []}],
    )
    project.status = Project.Status.PUBLISHED
    project.save()
    services.consent_set(annotator=annotator, project=project, categories=["gore"])
    client = client_for(annotator)
    assert client.get("/api/me/display/").json() == {"blur_px": 16}  # the default
    first = client.post(f"/api/projects/{project.pk}/next/").json()
    assert first["protect"]["blur"] is True and first["protect"]["blur_px"] == 16
    saved = client.put("/api/me/display/", {"blur_px": 6}, format="json")
    assert saved.status_code == 200 and saved.json() == {"blur_px": 6}
    assert client.get("/api/me/display/").json() == {"blur_px": 6}
    client.post(f"/api/assignments/{first['assignment']}/skip/")
    second = client.post(f"/api/projects/{project.pk}/next/").json()
    assert second["protect"]["blur_px"] == 6
    # Only this annotator's: another one still gets the default.
    other = make_user("annotator")
    services.consent_set(annotator=other, project=project, categories=["gore"])
    assert (
        client_for(other).post(f"/api/projects/{project.pk}/next/").json()["protect"]["blur_px"]
        == 16
    )
    # A safe task is not blurred: no strength to send.
    client.post(f"/api/assignments/{second['assignment']}/skip/")
    safe = client.post(f"/api/projects/{project.pk}/next/").json()
    assert safe["protect"]["blur"] is False and "blur_px" not in safe["protect"]


@pytest.mark.parametrize("value", [1, 41, "x", None, 12.5, True])
def test_a_blur_strength_out_of_range_is_refused(client_for, annotator, value):
    client = client_for(annotator)
    refused = client.put("/api/me/display/", {"blur_px": value}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]
    assert client.get("/api/me/display/").json() == {"blur_px": 16}


def test_blur_strength_service_checks_its_range(annotator):
    with pytest.raises(DomainError):
        services.display_preference_set(user=annotator, blur_px=41)
    assert services.display_preference_set(user=annotator, blur_px=40).blur_px == 40
