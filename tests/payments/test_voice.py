"""Worker voice: annotators' anonymous messages to auditors (payments.models.VoiceMessage)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from fairlabel.errors import DomainError
from fairlabel.log_filters import IdentityFreePaths
from labeling import dispatch
from labeling.services import project_pause
from payments import selectors, services
from payments.models import VoiceMessage, VoiceQuota
from tests.factories import project_factory, user_factory

pytestmark = pytest.mark.django_db

# A Thursday: its ISO week starts on Monday 2030-06-03.
THURSDAY = datetime(2030, 6, 6, 23, 30, tzinfo=UTC)
MONDAY = date(2030, 6, 3)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _send(annotator, project, **kw):
    params = {"topic": "pay", "text": "The price is too low for these images.", **kw}
    return services.voice_message_send(annotator=annotator, project_id=project.pk, **params)


# --- nothing that identifies is stored ---------------------------------------------------------


def test_the_message_row_holds_the_project_topic_text_and_week_only():
    fields = {f.name for f in VoiceMessage._meta.get_fields()}
    assert fields == {"id", "project", "week", "topic", "text"}
    assert VoiceMessage._meta.pk.get_internal_type() == "UUIDField"
    for field in VoiceMessage._meta.concrete_fields:
        assert not getattr(field, "auto_now", False) and not getattr(field, "auto_now_add", False)
    # The counter of the weekly limit cannot lead to a message: no project, no message key.
    assert {f.name for f in VoiceQuota._meta.concrete_fields} == {
        "id",
        "annotator",
        "week",
        "count",
    }


def test_a_sent_message_is_stored_with_its_week_and_nothing_of_its_author():
    annotator = user_factory("annotator", username="zq9-author", timezone="Pacific/Kiritimati")
    project = project_factory(tasks=1, publish=True)
    week = _send(annotator, project, now=THURSDAY)  # already Friday in Kiritimati: UTC counts
    assert week == MONDAY
    row = VoiceMessage.objects.values().get()
    assert set(row) == {"id", "project_id", "week", "topic", "text"}
    assert row["week"] == MONDAY and row["project_id"] == project.pk
    values = " ".join(str(v) for v in row.values())
    assert "zq9-author" not in values and str(annotator.pk) != str(row["id"])
    # Two messages: their keys are random, not a sequence.
    _send(annotator, project, now=THURSDAY, topic="time")
    keys = list(VoiceMessage.objects.values_list("id", flat=True))
    assert all(k.version == 4 for k in keys)


def test_the_api_answers_received_and_the_week_with_no_id():
    annotator = user_factory("annotator")
    project = project_factory(tasks=1, publish=True)
    response = _api(annotator).post(
        f"/api/projects/{project.pk}/voice/",
        {"topic": "content", "text": "Too many gore images in a row."},
        format="json",
    )
    assert response.status_code == 201, response.content
    week = date.fromisoformat(response.json()["week"])
    assert response.json() == {"status": "received", "week": week.isoformat()}
    assert week.weekday() == 0
    message = VoiceMessage.objects.get()
    assert str(message.pk) not in response.content.decode()
    assert "no-store" in response["Cache-Control"]


# --- who may send, and how much -----------------------------------------------------------------


def test_the_weekly_limit_is_counted_apart_and_refused_past_it():
    annotator, other = user_factory("annotator"), user_factory("annotator")
    project = project_factory(tasks=1, publish=True)
    with override_settings(FAIRLABEL_VOICE_PER_WEEK=2):
        _send(annotator, project, now=THURSDAY)
        _send(annotator, project, now=THURSDAY)
        with pytest.raises(DomainError) as refused:
            _send(annotator, project, now=THURSDAY)
        assert refused.value.code == "voice_limit" and refused.value.status_code == 429
        assert refused.value.until == datetime(2030, 6, 10, tzinfo=UTC)
        _send(other, project, now=THURSDAY)  # another annotator has its own count
        # The next week starts afresh, and last week's counters are erased.
        _send(annotator, project, now=datetime(2030, 6, 10, 0, 1, tzinfo=UTC))
    assert VoiceMessage.objects.count() == 4
    assert list(VoiceQuota.objects.values_list("week", "count")) == [(date(2030, 6, 10), 1)]


def test_the_api_refuses_past_the_limit_with_a_clear_error():
    annotator = user_factory("annotator")
    project = project_factory(tasks=1, publish=True)
    client = _api(annotator)
    with override_settings(FAIRLABEL_VOICE_PER_WEEK=1):
        body = {"topic": "other", "text": "hello"}
        assert client.post(f"/api/projects/{project.pk}/voice/", body).status_code == 201
        response = client.post(f"/api/projects/{project.pk}/voice/", body)
    assert response.status_code == 429
    assert response.json()["error"] == "voice_limit"
    assert "Monday" in response.json()["detail"]
    assert VoiceMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"topic": "weather", "text": "hi"}, "invalid_topic"),
        ({"topic": "pay", "text": "   "}, "invalid_text"),
        ({"topic": "pay", "text": "x" * 2001}, "invalid_text"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored_or_counted(body, code):
    annotator = user_factory("annotator")
    project = project_factory(tasks=1, publish=True)
    response = _api(annotator).post(f"/api/projects/{project.pk}/voice/", body, format="json")
    assert response.status_code == 400 and response.json()["error"] == code
    assert not VoiceMessage.objects.exists() and not VoiceQuota.objects.exists()


def test_only_projects_the_annotator_may_work_on_or_worked_on():
    annotator, stranger = user_factory("annotator"), user_factory("annotator")
    draft = project_factory(tasks=1)
    worked = project_factory(tasks=2, publish=True)
    dispatch.assignment_next(annotator=annotator, project=worked)
    worked = project_pause(project=worked)
    for project, who in ((draft, annotator), (worked, stranger)):
        with pytest.raises(DomainError) as refused:
            _send(who, project)
        assert refused.value.status_code == 404
        assert (
            _api(who)
            .post(f"/api/projects/{project.pk}/voice/", {"topic": "pay", "text": "x"})
            .status_code
            == 404
        )
    _send(annotator, worked)  # paused since it worked there: it may still speak about it
    assert VoiceMessage.objects.filter(project=worked).count() == 1
    assert not VoiceQuota.objects.filter(annotator=stranger).exists()


def test_other_roles_and_anonymous_cannot_send():
    project = project_factory(tasks=1, publish=True)
    url = f"/api/projects/{project.pk}/voice/"
    body = {"topic": "pay", "text": "x"}
    assert APIClient().post(url, body).status_code == 401
    for role in ("owner", "auditor", "admin"):
        assert _api(user_factory(role)).post(url, body).status_code == 403
    assert _api(project.owner).post(url, body).status_code == 403
    with pytest.raises(DomainError):
        services.voice_message_send(
            annotator=project.owner, project_id=project.pk, topic="pay", text="x"
        )
    assert not VoiceMessage.objects.exists()


# --- who reads ----------------------------------------------------------------------------------


def test_auditors_read_per_project_and_week_and_owners_never():
    annotator = user_factory("annotator", username="zq9-writer")
    owner = user_factory("owner")
    one = project_factory(owner, tasks=1, publish=True, title="Project one")
    two = project_factory(tasks=1, publish=True, title="Project two")
    _send(annotator, one, now=THURSDAY, text="About one, week 1")
    _send(annotator, two, now=THURSDAY, topic="content", text="About two, week 1")
    _send(annotator, one, now=datetime(2030, 6, 12, tzinfo=UTC), text="About one, week 2")
    auditor = _api(user_factory("auditor"))

    everything = auditor.get("/api/voice/").json()
    assert everything["count"] == 3
    assert everything["results"][0]["text"] == "About one, week 2"
    assert everything["results"][0] == {
        "project": {"id": one.pk, "title": "Project one"},
        "week": "2030-06-10",
        "topic": "pay",
        "text": "About one, week 2",
    }
    only_one = auditor.get("/api/voice/", {"project": one.pk}).json()["results"]
    assert {r["text"] for r in only_one} == {"About one, week 1", "About one, week 2"}
    since = auditor.get("/api/voice/", {"since": "2030-06-11"}).json()["results"]
    assert [r["text"] for r in since] == ["About one, week 2"]
    week = auditor.get("/api/voice/", {"week": "2030-06-05"}).json()["results"]
    assert {r["text"] for r in week} == {"About one, week 1", "About two, week 1"}
    assert auditor.get("/api/voice/", {"since": "yesterday"}).status_code == 400
    assert _api(user_factory("admin")).get("/api/voice/").json()["count"] == 3

    # The owner: not through the API, not through the page, whatever the project.
    assert _api(owner).get("/api/voice/").status_code == 403
    assert _api(owner).get("/api/voice/", {"project": one.pk}).status_code == 403
    assert _api(annotator).get("/api/voice/").status_code == 403
    from django.test import Client

    page = Client()
    page.force_login(owner)
    assert page.get("/audit/voice/").status_code == 403
    assert page.get(f"/projects/{one.pk}/voice/").status_code == 403
    page.force_login(user_factory("auditor"))
    body = page.get("/audit/voice/", {"project": one.pk, "week": "2030-06-04"}).content.decode()
    assert "About one, week 1" in body
    assert "About one, week 2" not in body and "About two" not in body
    assert "zq9-writer" not in body


def test_the_auditors_page_is_linked_from_the_reports_page():
    from django.test import Client

    page = Client()
    page.force_login(user_factory("auditor"))
    assert 'href="/audit/voice/"' in page.get("/audit/reports/").content.decode()


# --- the annotator's page ---------------------------------------------------------------------


def test_the_page_sends_without_javascript_and_confirms_with_the_week():
    from django.test import Client

    annotator = user_factory("annotator")
    project = project_factory(tasks=1, publish=True)
    page = Client()
    page.force_login(annotator)
    home = page.get("/label/").content.decode()
    assert f'href="/projects/{project.pk}/voice/"' in home
    form = page.get(f"/projects/{project.pk}/voice/").content.decode()
    assert "What is not stored" in form
    response = page.post(
        f"/projects/{project.pk}/voice/", {"topic": "treatment", "text": "Rude rejections."}
    )
    assert response.status_code == 302
    week = VoiceMessage.objects.get().week
    assert response["Location"] == f"/projects/{project.pk}/voice/?sent={week.isoformat()}"
    confirmed = page.get(response["Location"]).content.decode()
    assert 'data-testid="voice-sent"' in confirmed
    # An empty text: the form again with the error, what was chosen kept.
    again = page.post(f"/projects/{project.pk}/voice/", {"topic": "pay", "text": ""})
    assert again.status_code == 400
    assert 'data-testid="voice-error"' in again.content.decode()
    assert VoiceMessage.objects.count() == 1


# --- logs ---------------------------------------------------------------------------------------


def _identity(user) -> list[str]:
    return [user.username, f"user={user.pk}", "127.0.0.1"]


def test_log_records_of_the_voice_paths_carry_no_user(caplog):
    """Refusals are what Django logs (django.request, with the request and so its user): on the
    voice paths the configured console filter strips the request before any handler sees it."""
    annotator = user_factory("annotator", username="zq9-logged")
    project = project_factory(tasks=1, publish=True)
    client = _api(annotator)
    caplog.set_level(logging.INFO)
    with override_settings(FAIRLABEL_VOICE_PER_WEEK=1):
        assert client.post(f"/api/projects/{project.pk}/voice/", {"topic": "pay", "text": "a"})
        refused = client.post(f"/api/projects/{project.pk}/voice/", {"topic": "pay", "text": "b"})
        invalid = client.post(f"/api/projects/{project.pk}/voice/", {"topic": "?", "text": "b"})
    assert (refused.status_code, invalid.status_code) == (429, 400)
    voice = [r for r in caplog.records if "/voice/" in r.getMessage()]
    assert len(voice) == 2  # the 429 and the 400 were logged...
    for record in voice:  # ...without the request, its user or its address
        assert getattr(record, "request", None) is None
        text = record.getMessage() + str(record.__dict__)
        assert not any(secret in text for secret in _identity(annotator))
    # Other paths keep their request (the filter is not a blanket one): the test would see it.
    client.post("/api/payouts/", {"amount": "1.00"})
    others = [r for r in caplog.records if "/api/payouts/" in r.getMessage()]
    assert others and getattr(others[-1], "request", None) is not None


def test_the_filter_strips_gunicorn_access_atoms_and_django_server_requests():
    log_filter = IdentityFreePaths([r"^/(api/)?projects/[^/]+/voice/"])
    atoms = {
        "h": "203.0.113.9",
        "u": "-",
        "r": "POST /projects/5/voice/ HTTP/1.1",
        "U": "/projects/5/voice/",
        "s": "302",
        "a": "Firefox",
        "f": "http://x/label/",
        "{cookie}i": "sessionid=abc",
    }
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, "", 0, "%(h)s %(r)s %(a)s", None, None
    )
    record.args = atoms
    assert log_filter.filter(record)
    assert record.getMessage() == "- POST /projects/5/voice/ HTTP/1.1 -"
    other = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(h)s %(r)s", None, None)
    other.args = {**atoms, "U": "/label/5/", "r": "GET /label/5/ HTTP/1.1"}
    assert log_filter.filter(other) and other.getMessage().startswith("203.0.113.9")
    server = logging.LogRecord(
        "django.server",
        logging.INFO,
        "",
        0,
        '"%s" %s %s',
        ("POST /api/projects/5/voice/ HTTP/1.1", "201", "40"),
        None,
    )
    server.request = object()
    assert log_filter.filter(server) and not hasattr(server, "request")


def test_the_voice_list_reads_in_few_queries(django_assert_max_num_queries):
    annotator = user_factory("annotator")
    for n in range(3):
        _send(annotator, project_factory(tasks=1, publish=True), text=f"m{n}")
    with django_assert_max_num_queries(1):
        assert len(list(selectors.voice_messages())) == 3
