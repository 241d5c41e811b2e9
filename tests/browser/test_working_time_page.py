"""Working time on the labeling page, in Chromium, with every rule of the default settings on and
a short break policy: work, hit a break, see the countdown, get served again untouched."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from labeling.models import Annotation
from labeling.services import project_publish, tasks_create
from tests.browser.conftest import login
from tests.factories import project_factory, user_factory
from workers.models import Break, WorkSpan

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_break_comes_with_a_countdown_and_tasks_come_back_by_themselves(page, settings):
    settings.FAIRLABEL_BREAK_AFTER_MINUTES = Decimal("0.05")  # 3 seconds of work
    settings.FAIRLABEL_BREAK_MINUTES = Decimal("0.05")  # a 3-second break
    project = project_factory(instructions="Pick **pos** or **neg**.")
    tasks_create(project=project, rows=[{"data": {"text": f"Text {n}"}} for n in range(40)])
    project_publish(project=project)
    annotator = user_factory("annotator")
    login(page, annotator.username)
    page.goto(f"/label/{project.pk}/")

    # First the instructions, with the time counted as instruction time.
    expect(page.get_by_test_id("start")).to_be_visible()
    expect(page.get_by_test_id("work-status")).to_contain_text("Worked today")
    page.wait_for_timeout(500)
    page.keyboard.press("Enter")
    page.wait_for_selector("#task-view[data-task-id]")
    assert WorkSpan.objects.filter(annotator=annotator, kind="instructions").exists()

    refusal = page.get_by_test_id("refusal")
    for _ in range(40):  # label until the break comes
        if refusal.is_visible():
            break
        page.wait_for_function(  # a function, not an expression: the CSP forbids eval()
            "() => document.getElementById('labeler').getAttribute('aria-busy') === 'false'"
        )
        if refusal.is_visible():
            break
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Break")
    expect(refusal.get_by_test_id("countdown")).to_have_text(re.compile(r"\(0:0[0-3]\)"))
    assert refusal.get_by_role("link", name="The rule").get_attribute("href").endswith("#breaks")
    done_before = Annotation.objects.filter(annotator=annotator).count()
    assert done_before >= 1

    # Nobody touches the page: after the break a task is served again.
    expect(refusal).to_be_hidden(timeout=10_000)
    page.wait_for_selector("#task-view[data-task-id]")
    assert Break.objects.filter(annotator=annotator, kind="due").count() >= 1
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("status")).to_contain_text("Saved")
