from __future__ import annotations

from decimal import Decimal

import pytest

from fairlabel.errors import DomainError
from labeling.markdown import render_markdown
from labeling.models import Project, Task
from labeling.services import project_update, tasks_create
from tests.factories import project_factory

pytestmark = pytest.mark.django_db

VALID = {
    "title": "Sentiment",
    "instructions": "Pick **one**.",
    "task_type": "text_classification",
    "labels": ["pos", {"value": "neg", "color": "#ff0000", "hotkey": "n"}],
    "annotations_per_task": 3,
    "content_categories": ["hate"],
    "price_per_task": "0.10",
    "estimated_seconds_per_task": 20,
}


def test_owner_creates_a_project_with_normalised_labels(owner, client_for):
    response = client_for(owner).post("/api/projects/", VALID, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["labels"] == [
        {"value": "pos", "color": "#2563eb", "hotkey": "1"},
        {"value": "neg", "color": "#ff0000", "hotkey": "n"},
    ]
    assert body["price_per_task"] == "0.10"
    assert body["implied_hourly"] == "18.00"  # 0.10 * 3600 / 20
    assert body["status"] == "draft"
    assert body["progress"]["tasks"] == 0
    project = Project.objects.get(pk=body["id"])
    assert project.price_per_task == Decimal("0.10")
    assert project.owner == owner


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price_per_task": 0.1}, "price_per_task"),
        ({"price_per_task": "0.105"}, "price_per_task"),
        ({"labels": []}, "labels"),
        ({"labels": ["a", "a"]}, "labels"),
        ({"labels": [{"value": "a", "hotkey": "s"}]}, "labels"),
        ({"content_categories": ["kittens"]}, "content_categories"),
        ({"task_type": "audio"}, "task_type"),
        ({"annotations_per_task": 0}, "annotations_per_task"),
    ],
)
def test_bad_project_input_gets_a_clear_error(owner, client_for, change, field):
    response = client_for(owner).post("/api/projects/", {**VALID, **change}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"]
    assert (
        field in body["detail"] or field in body.get("fields", {}) or body.get("field") == field
    ), body
    assert not Project.objects.exists()


@pytest.mark.parametrize("role", ["annotator", "auditor"])
def test_only_owners_create_projects(make_user, client_for, role):
    response = client_for(make_user(role)).post("/api/projects/", VALID, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


def test_projects_are_scoped_by_role(make_user, client_for):
    mine = project_factory(make_user("owner"), tasks=2, publish=True)
    other_owner = make_user("owner")
    draft = project_factory(other_owner)

    def ids(user):
        return {p["id"] for p in client_for(user).get("/api/projects/").json()["results"]}

    assert ids(mine.owner) == {mine.pk}
    assert ids(other_owner) == {draft.pk}
    assert ids(make_user("annotator")) == {mine.pk}
    assert ids(make_user("auditor")) == {mine.pk, draft.pk}
    assert client_for(other_owner).get(f"/api/projects/{mine.pk}/").status_code == 404
    assert client_for(make_user("annotator")).get(f"/api/projects/{draft.pk}/").status_code == 404
    assert (
        client_for(make_user("auditor"))
        .patch(f"/api/projects/{draft.pk}/", {"title": "x"}, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(other_owner)
        .patch(f"/api/projects/{mine.pk}/", {"title": "x"}, format="json")
        .status_code
        == 404
    )


def test_publish_is_refused_under_the_floor_with_the_rule(owner, client_for):
    project = project_factory(owner, tasks=3, price_per_task="0.05", estimated_seconds_per_task=30)
    response = client_for(owner).post(f"/api/projects/{project.pk}/publish/")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "below_floor"
    assert body["implied_hourly"] == "6.00"
    assert body["floor_hourly"] == "12.00"
    assert "at least 0.10 per task" in body["detail"]
    assert body["rule"].endswith("#fair-pay-floor")
    project.refresh_from_db()
    assert project.status == "draft"


def test_publish_needs_tasks_then_succeeds(owner, client_for):
    project = project_factory(owner)
    api = client_for(owner)
    assert api.post(f"/api/projects/{project.pk}/publish/").json()["error"] == "no_tasks"
    tasks_create(project=project, rows=[{"data": {"text": "hello"}}])
    response = api.post(f"/api/projects/{project.pk}/publish/")
    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert response.json()["published_at"]


def test_floor_comes_from_settings(owner, client_for, settings):
    settings.FAIRLABEL_FLOOR_HOURLY = Decimal("20.00")
    project = project_factory(
        owner, tasks=1, price_per_task="0.10", estimated_seconds_per_task=20
    )  # 18.00 an hour
    response = client_for(owner).post(f"/api/projects/{project.pk}/publish/")
    assert response.json()["error"] == "below_floor"


def test_changing_overlap_keeps_the_dispatch_counter_true(owner):
    project = project_factory(owner, tasks=4, annotations_per_task=2)
    assert set(Task.objects.values_list("slots_free", flat=True)) == {2}
    project_update(project=project, annotations_per_task=3)
    assert set(Task.objects.values_list("slots_free", flat=True)) == {3}
    project_update(project=project, annotations_per_task=1)
    assert set(Task.objects.values_list("slots_free", flat=True)) == {1}


def test_task_type_is_locked_once_tasks_exist(owner, client_for):
    project = project_factory(owner, tasks=1)
    response = client_for(owner).patch(
        f"/api/projects/{project.pk}/", {"task_type": "multi_label"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "task_type_locked"


def test_sensitivity_follows_row_categories_else_the_project(owner):
    project = project_factory(owner, content_categories=["violence"])
    tasks_create(
        project=project,
        rows=[
            {"data": {"text": "a"}},
            {"data": {"text": "b"}, "categories": []},
            {"data": {"text": "c"}, "categories": ["gore"]},
        ],
    )
    # Stored, one bit per category (violence 1, gore 2): the effective categories, not a guess
    # at query time.
    assert list(project.tasks.order_by("id").values_list("category_mask", flat=True)) == [1, 0, 2]
    assert [t.is_sensitive for t in project.tasks.order_by("id")] == [True, False, True]


def test_a_project_categories_edit_rewrites_the_following_tasks_in_one_statement(owner):
    """Tasks without categories of their own follow the project's: an edit rewrites their stored
    value in one UPDATE, however many they are; tasks with their own keep them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from labeling.categories import mask_of

    project = project_factory(owner, content_categories=["violence"])
    tasks_create(
        project=project,
        rows=[{"data": {"text": f"t{n}"}} for n in range(30)]
        + [
            {"data": {"text": "own"}, "categories": ["hate"]},
            {"data": {"text": "safe"}, "categories": []},
        ],
    )

    def masks():
        return list(project.tasks.order_by("id").values_list("category_mask", flat=True))

    with CaptureQueriesContext(connection) as queries:
        project_update(project=project, content_categories=["gore", "sexual"])
    task_writes = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "labeling_task"')]
    assert len(task_writes) == 1, task_writes
    assert masks() == [mask_of(["gore", "sexual"])] * 30 + [mask_of(["hate"]), 0]
    project_update(project=project, content_categories=[])
    assert masks() == [0] * 30 + [mask_of(["hate"]), 0]
    with CaptureQueriesContext(connection) as queries:
        project_update(project=project, title="Same categories")
    assert not [q for q in queries if q["sql"].startswith('UPDATE "labeling_task"')]


def test_instructions_markdown_is_sanitised():
    html = render_markdown("**bold** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>bold</strong>" in html
    assert "<script" not in html
    assert "javascript:" not in html


def test_owner_pages(owner, client, make_user):
    client.force_login(owner)
    form = client.get("/projects/new/")
    assert form.status_code == 200
    assert b'id="rate-value"' in form.content
    response = client.post(
        "/projects/new/",
        {
            "title": "Reviews",
            "instructions": "Be kind",
            "task_type": "text_classification",
            "labels": "pos | #00aa00 | p\nneg",
            "annotations_per_task": 2,
            "price_per_task": "0.10",
            "estimated_seconds_per_task": 20,
        },
    )
    project = Project.objects.get(title="Reviews")
    assert response.status_code == 302
    assert project.labels[0] == {"value": "pos", "color": "#00aa00", "hotkey": "p"}
    assert project.labels[1]["hotkey"] == "2"
    detail = client.get(f"/projects/{project.pk}/")
    assert detail.status_code == 200
    assert b"Reviews" in detail.content
    publish = client.post(f"/projects/{project.pk}/publish/", follow=True)
    assert b"Import tasks before publishing" in publish.content

    client.force_login(make_user("owner"))
    assert client.get(f"/projects/{project.pk}/").status_code == 404
    client.force_login(make_user("auditor"))
    assert client.get(f"/projects/{project.pk}/").status_code == 200
    client.force_login(make_user("annotator"))
    assert client.get(f"/projects/{project.pk}/").status_code == 403


def test_deleting_a_project_deletes_its_tasks(owner):
    # Task.project has no database constraint (bulk imports): the ORM must cascade.
    # (A project whose money moved cannot be deleted: its ledger entries protect it.)
    project = project_factory(owner, tasks=3, fund=False)
    other = project_factory(owner, tasks=2, fund=False)
    project.delete()
    assert set(Task.objects.values_list("project_id", flat=True)) == {other.pk}


def test_a_published_project_cannot_be_edited_under_the_floor(owner, client_for):
    project = project_factory(owner, tasks=1, publish=True)
    api = client_for(owner)
    response = api.patch(f"/api/projects/{project.pk}/", {"price_per_task": "0.01"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "below_floor"
    slower = api.patch(
        f"/api/projects/{project.pk}/", {"estimated_seconds_per_task": 600}, format="json"
    )
    assert slower.json()["error"] == "below_floor"
    project.refresh_from_db()
    assert project.price_per_task == Decimal("0.10")
    assert project.estimated_seconds_per_task == 20


def test_overlap_goes_down_only_when_nobody_holds_a_task(owner, make_user):
    from labeling.dispatch import annotation_submit, assignment_next
    from labeling.services import project_pause

    project = project_factory(owner, tasks=2, annotations_per_task=3, publish=True)
    first, second = make_user("annotator"), make_user("annotator")
    done = assignment_next(annotator=first, project=project)
    annotation_submit(annotator=first, assignment_id=done.pk, result={"label": "pos"})
    held = assignment_next(annotator=second, project=project)
    assert held.task_id == done.task_id  # closest to done first
    project_pause(project=project)
    with pytest.raises(DomainError) as refused:
        project_update(project=project, annotations_per_task=1)
    assert refused.value.code == "overlap_locked"
    from labeling.dispatch import assignment_skip

    assignment_skip(annotator=second, assignment_id=held.pk)
    project_update(project=project, annotations_per_task=1)
    counters = dict(Task.objects.values_list("id", "slots_free"))
    assert counters[done.task_id] == 0  # it has its one annotation
    assert sorted(counters.values()) == [0, 1]


def test_instructions_cannot_embed_external_images():
    html = render_markdown("![track](https://tracker.example/pixel.png) hello")
    assert "<img" not in html
    assert "hello" in html
