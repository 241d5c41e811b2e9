"""Consent, recovery controls and flags on the labeling page, in Chromium, default rules."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from labeling.models import Project, Task
from labeling.services import tasks_create
from tests.browser.conftest import login
from tests.factories import project_factory, user_factory
from workers.models import Consent, WorkState

pytestmark = pytest.mark.django_db(transaction=True)


def test_consent_first_then_recovery_controls_and_stop_for_today(page):
    project = project_factory(content_categories=["violence"])
    rows = [{"data": {"text": f"Harsh text {n}"}} for n in range(3)]
    rows += [{"data": {"text": f"Calm text {n}"}, "categories": []} for n in range(2)]
    tasks_create(project=project, rows=rows)
    Project.objects.filter(pk=project.pk).update(status=Project.Status.PUBLISHED)
    annotator = user_factory("annotator")
    login(page, annotator.username)
    page.goto(f"/label/{project.pk}/")

    consent = page.get_by_test_id("consent")
    expect(consent).to_be_visible()
    expect(consent).to_contain_text("Violence")
    expect(consent).to_contain_text("withdraw")
    page.get_by_label("Violence").check()
    page.get_by_role("button", name="Agree to the checked kinds and continue").click()
    page.wait_for_selector("#task-view[data-task-id]")
    assert Consent.objects.get(annotator=annotator).categories == ["violence"]

    # Sensitive tasks come first (unmarked rows carry the project's category), hidden until
    # revealed, with the recovery controls beside them.
    expect(page.get_by_role("button", name="Recovery break")).to_be_visible()
    page.get_by_role("button", name="No more sensitive work today").click()
    expect(page.locator("#task-view")).to_contain_text("Calm text")
    assert WorkState.objects.get(annotator=annotator).sensitive_stopped_day is not None
    expect(page.get_by_role("button", name="Recovery break")).to_be_hidden()

    # A calm text that turns out disturbing: flag it.
    page.get_by_text("Flag this task as disturbing").click()
    page.get_by_label("What it shows").select_option("hate")
    page.get_by_role("button", name="Flag", exact=True).click()
    expect(page.get_by_test_id("status")).to_contain_text("Flagged")
    flagged = Task.objects.get(pk=page.locator("#task-view").get_attribute("data-task-id"))
    assert flagged.categories == ["hate"] and flagged.is_sensitive


def test_declining_every_category_serves_only_safe_tasks(page):
    project = project_factory(content_categories=["gore"])
    tasks_create(
        project=project,
        rows=[{"data": {"text": "Gory"}}, {"data": {"text": "Plain"}, "categories": []}],
    )
    Project.objects.filter(pk=project.pk).update(status=Project.Status.PUBLISHED)
    annotator = user_factory("annotator")
    login(page, annotator.username)
    page.goto(f"/label/{project.pk}/")
    page.get_by_role("button", name="Continue without sensitive content").click()
    expect(page.locator("#task-view")).to_contain_text("Plain")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    # Nothing safe is left: the consent panel comes back, with the choice still open.
    expect(page.get_by_test_id("consent")).to_be_visible()


def test_consent_is_withdrawn_from_the_labeling_page_in_one_click(page):
    project = project_factory(content_categories=["violence"])
    tasks_create(
        project=project,
        rows=[{"data": {"text": f"Harsh {n}"}} for n in range(2)]
        + [{"data": {"text": "Calm"}, "categories": []}],
    )
    Project.objects.filter(pk=project.pk).update(status=Project.Status.PUBLISHED)
    annotator = user_factory("annotator")
    login(page, annotator.username)
    page.goto(f"/label/{project.pk}/")
    page.get_by_label("Violence").check()
    page.get_by_role("button", name="Agree to the checked kinds and continue").click()
    page.wait_for_selector("#task-view[data-task-id]")
    page.get_by_role("button", name="What I agreed to see").click()
    page.get_by_role("button", name="Continue without sensitive content").click()
    expect(page.locator("#task-view")).to_contain_text("Calm")
    assert Consent.objects.get(annotator=annotator).categories == []


def test_the_cool_down_is_shown_as_a_paid_break_and_work_resumes_by_itself(page, settings):
    """After the run of sensitive items, with nothing safe left, the page shows the cool-down
    calmly with its countdown (a paid break, recorded once), then serves the next task."""
    from decimal import Decimal

    from workers.models import Break

    settings.FAIRLABEL_SENSITIVE_STREAK = 1
    settings.FAIRLABEL_COOLDOWN_MINUTES = Decimal("0.05")  # three seconds
    project = project_factory(content_categories=["violence"])
    tasks_create(project=project, rows=[{"data": {"text": f"Harsh {n}"}} for n in range(2)])
    Project.objects.filter(pk=project.pk).update(status=Project.Status.PUBLISHED)
    annotator = user_factory("annotator")
    login(page, annotator.username)
    page.goto(f"/label/{project.pk}/")
    page.get_by_label("Violence").check()
    page.get_by_role("button", name="Agree to the checked kinds and continue").click()
    page.wait_for_selector("#task-view[data-task-id]")
    first = page.locator("#task-view").get_attribute("data-task-id")
    page.get_by_role("button", name="Show", exact=True).click()
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text("A paid cool-down from sensitive content")
    expect(refusal).to_have_class("panel refusal calm")
    expect(page.get_by_test_id("countdown")).to_be_visible()
    (cooldown,) = Break.objects.filter(annotator=annotator)
    assert cooldown.kind == "cooldown"
    # When it is over the next task comes by itself.
    page.wait_for_function(
        "prev => document.getElementById('task-view').dataset.taskId"
        " && document.getElementById('task-view').dataset.taskId !== prev",
        arg=first,
        timeout=15_000,
    )
    assert Break.objects.filter(annotator=annotator).count() == 1
