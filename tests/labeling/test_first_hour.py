"""What a new user tripped over in the first hour (issue 12), server side: labels in use,
colours, imports' messages, the paused project's page, sign-up lists, titles and logs."""

from __future__ import annotations

import io
import logging
import re
import sys

import pytest
from django.test import override_settings

from fairlabel.errors import DomainError
from labeling.models import TaskType
from labeling.results import PALETTE, labels_normalize
from labeling.services import project_pause, project_update
from tests.factories import project_factory, user_factory
from tests.labeling.test_export_support import labeled_project
from tests.labeling.test_import import jsonl, make_zip, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Upload through the service; the job runs on commit (Celery eager), as in test_import."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeling.importing.services import import_job_create

    def go(project, name: str, content: bytes):
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(
                project=project, user=project.owner, file=SimpleUploadedFile(name, content)
            )
        job.refresh_from_db()
        return job

    return go


# --- labels ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "task_type",
    [TaskType.TEXT_CLASSIFICATION, TaskType.MULTI_LABEL, TaskType.TEXT_SPANS, TaskType.IMAGE_BOXES],
)
def test_a_label_that_annotations_use_cannot_be_removed(task_type):
    project = labeled_project(task_type, tasks=1, per_task=1, annotators=1)
    used = {
        TaskType.TEXT_CLASSIFICATION: "pos",
        TaskType.MULTI_LABEL: "tech",
        TaskType.TEXT_SPANS: "PER",
        TaskType.IMAGE_BOXES: "dog",
    }[task_type]
    kept = [lab for lab in project.labels if lab["value"] != used]
    with pytest.raises(DomainError, match=f"Annotations already use “{used}”") as refused:
        project_update(project=project, labels=kept)
    assert refused.value.code == "labels_in_use" and refused.value.extra["labels"] == [used]
    project.refresh_from_db()
    assert used in [lab["value"] for lab in project.labels]
    # Unused labels can still go, and new ones come.
    unused = {
        TaskType.TEXT_CLASSIFICATION: "neutral",
        TaskType.MULTI_LABEL: "politics",
        TaskType.TEXT_SPANS: None,
        TaskType.IMAGE_BOXES: None,
    }[task_type]
    if unused:
        labels = [lab for lab in project.labels if lab["value"] != unused] + [{"value": "new"}]
        project = project_update(project=project, labels=labels)
        assert unused not in [lab["value"] for lab in project.labels]


def test_the_project_form_says_why_a_label_cannot_go(client):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, tasks=1, per_task=1, annotators=1)
    client.force_login(project.owner)
    response = client.post(
        f"/projects/{project.pk}/edit/",
        {
            "title": project.title,
            "task_type": project.task_type,
            "labels": "neg\nneutral",
            "annotations_per_task": 1,
            "price_per_task": "0.10",
            "estimated_seconds_per_task": 20,
        },
    )
    assert response.status_code == 200
    assert "Annotations already use “pos”" in response.content.decode()


def test_automatic_colours_never_repeat_a_colour_the_owner_chose():
    labels = labels_normalize(
        [{"value": "a"}, {"value": "b", "color": PALETTE[0]}, {"value": "c"}, "d"]
    )
    colours = [lab["color"] for lab in labels]
    assert colours[1] == PALETTE[0]
    assert len(set(colours)) == 4, colours
    many = labels_normalize([f"l{n}" for n in range(40)])
    assert len({lab["color"] for lab in many}) == 40


# --- imports ----------------------------------------------------------------------------------
def test_import_messages_name_no_internal_code_and_tell_types_from_absence(run):
    owner = user_factory("owner")
    project = project_factory(owner)
    job = run(project, "t.jsonl", jsonl({"text": 42}, {"body": "x"}) + b"{not json}\n")
    messages = [e["message"] for e in job.errors]
    assert messages[0] == "the field “text” must be text (a string in quotes), not the number 42"
    assert messages[1] == (
        "the field “text” is missing: tasks of type “Text classification” need it"
    )
    assert "invalid literal" not in messages[2] and "expected" not in messages[2]
    assert messages[2].startswith("not valid JSON")
    assert not any("text_classification" in m for m in messages)


def test_import_messages_are_shown_in_the_readers_language(run, client):
    owner = user_factory("owner")
    project = project_factory(owner)
    job = run(project, "t.jsonl", jsonl({"text": 42}, {"body": "x"}) + b"{not json}\n")
    client.force_login(owner)
    french = client.get(f"/imports/{job.pk}/status/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "ligne 1" in french and "« text »" in french and "le nombre 42" in french
    assert "Classification de texte" in french and "is missing" not in french
    english = client.get(f"/imports/{job.pk}/status/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "line 1" in english and "must be text" in english
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(owner)
    body = api.get(f"/api/imports/{job.pk}/", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert "le nombre 42" in body["errors"][0]["message"]
    assert set(body["errors"][0]) == {"line", "message"}


def test_a_zip_with_a_readme_imports_its_images_and_warns(run, client):
    owner = user_factory("owner")
    project = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    job = run(project, "p.zip", make_zip({"a.png": png(), "readme.txt": b"hi"}))
    assert (job.status, job.imported) == ("done", 1)
    client.force_login(owner)
    html = client.get(f"/imports/{job.pk}/status/").content.decode()
    assert 'data-testid="import-warnings"' in html and "readme.txt" in html


# --- a paused project ------------------------------------------------------------------------
def test_a_paused_projects_label_page_says_so_instead_of_404(client):
    project = project_factory(tasks=1, publish=True)
    project_pause(project=project)
    annotator = user_factory("annotator")
    client.force_login(annotator)
    response = client.get(f"/label/{project.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This project is paused by its owner" in html and 'href="/label/"' in html
    draft = project_factory(tasks=1)
    assert client.get(f"/label/{draft.pk}/").status_code == 404


# --- sign-up ----------------------------------------------------------------------------------
def test_sign_up_lists_country_names_and_places_not_codes(client):
    html = client.get("/accounts/signup/").content.decode()
    assert '<option value="KE">Kenya</option>' in html
    assert '<optgroup label="Europe">' in html and ">Paris (UTC" in html
    assert "Etc/GMT" not in html and "US/Eastern" not in html
    assert "js/signup.js" in html and "data-browser-default" in html
    french = client.get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<option value="DE">Allemagne</option>' in french


def test_sign_up_still_takes_a_code_and_a_zone():
    from accounts.forms import SignupForm

    form = SignupForm(
        data={
            "username": "newbie",
            "password": "a-good-test-password",
            "country": "FR",
            "timezone": "Europe/Paris",
        }
    )
    assert form.is_valid(), form.errors
    assert "data-browser-default" not in str(form["timezone"])  # a sent form keeps its choice


# --- page titles, logs ------------------------------------------------------------------------
def test_no_page_is_titled_fairlabel_twice(client, make_user):
    from pathlib import Path

    from django.conf import settings

    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = template.read_text()
        if '{% extends "base.html" %}' in text:
            assert "{% block title %}" in text, f"{template} has no title of its own"
    client.force_login(make_user("owner"))
    forbidden = client.get("/audit/").content.decode()
    assert "<title>Not allowed · Fairlabel</title>" in forbidden
    missing = client.get("/projects/999999/").content.decode()
    assert "<title>Not found · Fairlabel</title>" in missing


@pytest.fixture
def console(settings):
    """The app's logging as configured by settings.LOGGING, writing to a string."""
    from django.utils.log import configure_logging

    settings.DEBUG = True  # Django's own console handler logs only under DEBUG
    stream = io.StringIO()
    real = sys.stderr
    sys.stderr = stream
    try:
        configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    finally:
        sys.stderr = real
    yield stream
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


@override_settings(DEBUG_PROPAGATE_EXCEPTIONS=False)
def test_a_403_and_a_404_are_logged_once_without_traceback(client, make_user, console):
    client.force_login(make_user("owner"))
    assert client.get("/audit/").status_code == 403
    assert client.get("/projects/999999/").status_code == 404
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = console.getvalue()
    assert len(re.findall(r"Forbidden.*/audit/", text)) == 1, text
    assert len(re.findall(r"Not Found: /projects/999999/", text)) == 1, text
    assert "Traceback" not in text


def test_an_added_label_gets_a_key_of_its_own():
    """Removing "politics" (2) and adding "new" gave "new" the key 3, which "tech" holds."""
    stored = labels_normalize(["sports", "politics", "tech"])
    kept = [lab for lab in stored if lab["value"] != "politics"] + [{"value": "new"}]
    labels = labels_normalize(kept)
    assert [lab["hotkey"] for lab in labels] == ["1", "3", "2"]
    assert len({lab["color"] for lab in labels}) == 3


def test_favicon_ico_is_the_apps_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


def test_the_project_form_gives_the_services_reasons_in_french(client):
    owner = user_factory("owner")
    client.force_login(owner)
    response = client.post(
        "/projects/new/",
        {
            "title": "Avis",
            "task_type": "text_classification",
            "labels": "bon\nbon",
            "annotations_per_task": 1,
            "price_per_task": "0.10",
            "estimated_seconds_per_task": 20,
        },
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert "L&#x27;étiquette « bon » figure deux fois." in response.content.decode()


def test_the_top_bar_names_the_role_not_its_code(client):
    owner = user_factory("owner", username="olga")
    client.force_login(owner)
    html = client.get("/projects/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert re.search(r'data-testid="who">olga · propriétaire<', html)


def test_the_rules_page_writes_the_floor_the_readers_way(client, settings):
    from decimal import Decimal

    settings.FAIRLABEL_FLOOR_HOURLY = Decimal("12.00")
    french = client.get("/rules/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "12,00 USD" in french and "12.00" not in french
    assert "12.00 USD" in client.get("/rules/").content.decode()
