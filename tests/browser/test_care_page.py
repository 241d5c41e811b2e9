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
