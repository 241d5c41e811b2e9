"""The owner's and auditor's pages as a new user meets them (issue 12): task list with filters,
sort, search and real pages at a fixed number of queries; progress that counts annotations;
numbers, times and durations as people read them, in English and in French."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from labeling import selectors
from labeling.models import Annotation, Assignment, TaskFlag, TaskType
from labeling.services import project_publish, tasks_create
from tests.factories import project_factory, user_factory
from tests.labeling.test_export_support import labeled_project

pytestmark = pytest.mark.django_db


def _page(client, url, **headers):
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def _task_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'aria-label="Task (\d+)"', html)]


# --- the task list --------------------------------------------------------------------------
@pytest.fixture
def listed(owner):
    """A text project of 8 tasks: 2 finished (pos, neg), 1 with a suggestion, 1 flagged."""
    project = project_factory(owner, annotations_per_task=1)
    rows = [{"data": {"text": f"review number {n}"}, "id": f"r{n}"} for n in range(8)]
    rows[5]["predictions"] = [{"result": {"label": "neg"}}]
    rows[6]["data"]["text"] = "the café was closed"
    tasks_create(project=project, rows=rows)
    project = project_publish(project=project)
    tasks = list(project.tasks.order_by("id"))
    annotator = user_factory("annotator")
    now = timezone.now()
    for task, label in ((tasks[0], "pos"), (tasks[1], "neg")):
        assignment = Assignment.objects.create(
            task=task,
            project=project,
            annotator=annotator,
            status="submitted",
            served_at=now,
            expires_at=now,
            holds_slot=True,
        )
        Annotation.objects.create(
            assignment=assignment,
            task=task,
            project=project,
            annotator=annotator,
            result={"label": label},
            seconds=Decimal("19.662"),
        )
        type(task).objects.filter(pk=task.pk).update(annotation_count=1, slots_free=0)
    TaskFlag.objects.create(
        task=tasks[3], project=project, annotator=annotator, category="hate", created_at=now
    )
    return project, tasks, annotator


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", list(range(8))),
        ("state=finished", [0, 1]),
        ("state=new", [2, 3, 4, 5, 6, 7]),
        ("label=neg", [1]),
        ("suggestion=1", [5]),
        ("flagged=1", [3]),
        ("q=caf%C3%A9", [6]),
        ("q=r4", [4]),  # the external id too
        ("sort=-id", list(range(7, -1, -1))),
        ("sort=-annotations", [0, 1, 2, 3, 4, 5, 6, 7]),
        ("state=finished&label=pos", [0]),
        ("state=bogus&sort=bogus", list(range(8))),  # unknown values are ignored, not a 500
    ],
)
def test_the_task_list_filters_sorts_and_searches(client, listed, query, expected):
    project, tasks, _ = listed
    client.force_login(project.owner)
    html = _page(client, f"/projects/{project.pk}/tasks/?{query}")
    assert _task_ids(html) == [tasks[i].pk for i in expected]


def test_the_task_list_filters_by_pseudonym(client, listed):
    project, tasks, annotator = listed
    client.force_login(project.owner)
    html = _page(client, f"/projects/{project.pk}/tasks/?annotator={annotator.profile.pseudonym}")
    assert _task_ids(html) == [tasks[0].pk, tasks[1].pk]
    assert _task_ids(_page(client, f"/projects/{project.pk}/tasks/?annotator=anno-nobody")) == []


@pytest.mark.parametrize("task_type", [TaskType.MULTI_LABEL, TaskType.TEXT_SPANS])
def test_the_label_filter_reads_every_result_shape(client, task_type):
    project = labeled_project(task_type, tasks=2, per_task=1, annotators=1)
    client.force_login(project.owner)
    label = "tech" if task_type == TaskType.MULTI_LABEL else "LOC"
    html = _page(client, f"/projects/{project.pk}/tasks/?label={label}")
    # Only the first text mentions London (LOC); multi-label: every task has "tech".
    expected = 1 if task_type == TaskType.TEXT_SPANS else 2
    assert len(_task_ids(html)) == expected


def test_the_task_list_pages_through_every_task_and_keeps_the_filters(client, owner):
    project = project_factory(owner)
    tasks_create(project=project, rows=[{"data": {"text": f"t{n}"}} for n in range(120)])
    client.force_login(owner)
    html = _page(client, f"/projects/{project.pk}/tasks/?sort=-id&page=3")
    assert "Page 3 of 3" in html and len(_task_ids(html)) == 20
    assert "?sort=-id&amp;page=2" in html  # the previous page keeps the sort
    assert "120 tasks" in html


def test_a_task_list_page_costs_the_same_queries_at_any_size(
    client, owner, django_assert_max_num_queries
):
    """No query per row: 5 tasks and 60 tasks with every filter cost the same."""
    small = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    tasks_create(project=small, rows=[{"data": {"image": f"/i/{n}.png"}} for n in range(5)])
    large = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
    tasks_create(project=large, rows=[{"data": {"image": f"/i/{n}.png"}} for n in range(60)])
    client.force_login(owner)
    query = "?q=png&state=new&label=cat&annotator=x&suggestion=1&flagged=1&sort=-annotations"
    counts = []
    for project in (small, large):
        for suffix in ("", query):
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            with CaptureQueriesContext(connection) as captured:
                _page(client, f"/projects/{project.pk}/tasks/{suffix}")
            counts.append(len(captured))
    assert counts[0] == counts[2] and counts[1] == counts[3], counts
    with django_assert_max_num_queries(counts[0]):
        html = _page(client, f"/projects/{large.pk}/tasks/")
    assert html.count('class="thumb') == 50  # thumbnails for image tasks, one page of 50


def test_project_lists_page_and_cost_the_same_queries(client, make_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner = make_user("owner")
    for n in range(3):
        project_factory(owner, tasks=2, title=f"p{n}")
    client.force_login(owner)
    with CaptureQueriesContext(connection) as few:
        _page(client, "/projects/")
    for n in range(30):
        project_factory(owner, tasks=1, title=f"q{n}")
    with CaptureQueriesContext(connection) as many:
        html = _page(client, "/projects/")
    assert len(many) == len(few), (len(few), len(many))
    assert "Page 1 of 2" in html  # 33 projects: pages, not a cut at a fixed length
    auditor = make_user("auditor")
    client.force_login(auditor)
    with CaptureQueriesContext(connection) as audit:
        html = _page(client, "/audit/")
    assert "Page 1 of 2" in html and len(audit) <= len(many) + 1


def test_an_admin_sees_all_projects_with_their_owners(client, make_user):
    alice, bob = make_user("owner", username="alice"), make_user("owner", username="bob")
    project_factory(alice, title="Alice's")
    project_factory(bob, title="Bob's")
    client.force_login(make_user("admin"))
    html = _page(client, "/projects/")
    assert "<h1>All projects</h1>" in html and "My projects" not in html
    assert ">alice</td>" in html and ">bob</td>" in html
    client.force_login(alice)
    html = _page(client, "/projects/")
    assert "<h1>My projects</h1>" in html and "Bob's" not in html and ">alice</td>" not in html


def test_progress_counts_annotations_as_well_as_finished_tasks(client):
    project = labeled_project(TaskType.TEXT_CLASSIFICATION, tasks=2, per_task=3, annotators=2)
    progress = selectors.project_progress(project)
    assert (progress["finished"], progress["annotations"], progress["annotations_needed"]) == (
        0,
        4,
        6,
    )
    assert progress["annotations_percent"] == 66.7
    client.force_login(project.owner)
    html = _page(client, f"/projects/{project.pk}/")
    assert "66.7 % · 4 of 6 annotations · 0 of 2 tasks finished" in html
    assert 'max="6" value="4"' in html
    assert "0 / 2 tasks · 4 / 6 annotations" in _page(client, "/projects/")


# --- what the pages say, and how -------------------------------------------------------------
def test_seconds_are_not_float_noise(listed):
    """SQLite sums decimals through floats: 19.662 came back as 19.6620000000000."""
    _, _, annotator = listed
    today = selectors.annotator_today(annotator=annotator)
    assert today["seconds"] == "39.324"


def test_the_task_table_shows_the_text_not_python_dict_text(client, listed):
    project, _, _ = listed
    client.force_login(project.owner)
    for url in (f"/projects/{project.pk}/", f"/projects/{project.pk}/tasks/"):
        html = _page(client, url)
        assert "review number 2" in html
        assert "{&#x27;text&#x27;" not in html and "{'text'" not in html


def test_the_task_page_shows_times_durations_and_category_names(client, listed):
    project, tasks, _ = listed
    client.force_login(project.owner)
    html = _page(client, f"/projects/{project.pk}/tasks/{tasks[0].pk}/")
    assert "19.7 s" in html and "19.662" not in html
    assert not re.search(r">\d{4}-\d\d-\d\dT", html)  # no raw ISO time shown (attributes may)
    flagged = _page(client, f"/projects/{project.pk}/tasks/{tasks[3].pk}/")
    assert "Hate</span>" in flagged and ">hate<" not in flagged
    assert "&quot;text&quot;: &quot;review number 0&quot;" in html  # JSON, not Python


def test_the_task_page_highlights_spans_and_draws_boxes(client):
    spans = labeled_project(TaskType.TEXT_SPANS, tasks=1, per_task=1, annotators=1)
    client.force_login(spans.owner)
    task = spans.tasks.get()
    html = _page(client, f"/projects/{spans.pk}/tasks/{task.pk}/")
    assert re.search(r'<mark class="span-mark"[^>]*>Ada Lovelace<sup>PER</sup></mark>', html)
    assert re.search(r'<mark class="span-mark"[^>]*>London<sup>LOC</sup></mark>', html)
    boxes = labeled_project(TaskType.IMAGE_BOXES, tasks=1, per_task=1, annotators=1)
    client.force_login(boxes.owner)
    html = _page(client, f"/projects/{boxes.pk}/tasks/{boxes.tasks.get().pk}/")
    assert 'data-testid="box-result"' in html and "js/task_detail.js" in html
    assert "&quot;label&quot;: &quot;dog&quot;" in html


@override_settings(FAIRLABEL_FLOOR_HOURLY=Decimal("12.00"))
def test_french_pages_write_every_number_the_french_way(client, owner):
    project = project_factory(owner, price_per_task="0.10", estimated_seconds_per_task=20)
    client.force_login(owner)
    french = {"HTTP_ACCEPT_LANGUAGE": "fr"}
    html = _page(client, f"/projects/{project.pk}/", **french)
    assert "18,00" in html and "12,00" in html and "18.00" not in html
    form = _page(client, f"/projects/{project.pk}/edit/", **french)
    # Read by the page script as a number: never localised ("12,00" made NaN).
    assert 'data-floor="12.00"' in form
    listing = _page(client, "/projects/", **french)
    assert "18,00 USD/h" in listing


def test_the_annotator_home_names_categories_and_pages(client, make_user):
    owner = make_user("owner")
    project_factory(owner, tasks=1, publish=True, content_categories=["self_harm"])
    client.force_login(make_user("annotator"))
    html = _page(client, "/label/")
    assert "Self-harm" in html and "self_harm" not in html
