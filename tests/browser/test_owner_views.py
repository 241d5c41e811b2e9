"""The owner's view of a project: progress, work per pseudonym (never a username), and any
task with its annotations."""

from __future__ import annotations

import pytest

from accounts.selectors import pseudonym_of
from labeling import dispatch
from labeling.models import TaskType
from tests.browser.conftest import axe_violations, login
from tests.factories import project_factory, user_factory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _only_the_page_rules(settings):
    settings.FAIRLABEL_DISPATCH_GATES = ["labeling.policies.project_open_gate"]
    settings.FAIRLABEL_ASSIGNMENT_HOOKS = []


def _label(annotator, project, label):
    assignment = dispatch.assignment_next(annotator=annotator, project=project)
    dispatch.annotation_submit(
        annotator=annotator, assignment_id=assignment.pk, result={"label": label}
    )
    return assignment.task_id


def test_owner_sees_progress_work_per_pseudonym_and_a_task_with_its_annotations(page):
    owner = user_factory("owner")
    project = project_factory(
        owner, task_type=TaskType.TEXT_CLASSIFICATION, tasks=2, publish=True, annotations_per_task=2
    )
    amina = user_factory("annotator", username="amina_kamau")
    bruno = user_factory("annotator", username="bruno_tavares")
    first = _label(amina, project, "pos")
    _label(amina, project, "neg")
    assert _label(bruno, project, "neutral") == first

    login(page, owner.username)
    page.goto(f"/projects/{project.pk}/")
    assert (
        "3 of 4 annotations · 1 of 2 tasks finished" in page.get_by_test_id("progress").inner_text()
    )
    rows = page.get_by_test_id("annotators").locator("tbody tr")
    assert rows.count() == 2
    per_pseudonym = {
        rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(1).inner_text()
        for i in range(2)
    }
    assert per_pseudonym == {pseudonym_of(amina): "2", pseudonym_of(bruno): "1"}
    tasks = page.get_by_test_id("tasks")
    assert "2 / 2" in tasks.inner_text() and "1 / 2" in tasks.inner_text()
    content = page.content()
    assert "amina_kamau" not in content and "bruno_tavares" not in content
    assert axe_violations(page) == []

    page.get_by_test_id("tasks").get_by_role("link", name=f"Task {first}").click()
    page.wait_for_url(f"**/projects/{project.pk}/tasks/{first}/")
    annotations = page.get_by_test_id("task-annotations").locator("tbody tr")
    assert annotations.count() == 2
    table = page.get_by_test_id("task-annotations").inner_text()
    assert pseudonym_of(amina) in table and pseudonym_of(bruno) in table
    assert "pos" in table and "neutral" in table
    content = page.content()
    assert "amina_kamau" not in content and "bruno_tavares" not in content
    assert axe_violations(page) == []
