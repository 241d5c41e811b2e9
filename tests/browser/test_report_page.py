"""An auditor opens a report on real work in Chromium: the histogram with the floor, the CSV,
and the violation the test planted, first and in red."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.conftest import axe_violations, login
from tests.factories import user_factory
from tests.payments.test_reports import T0, _world, plant_underpaid

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_auditor_reads_a_report_downloads_its_csv_and_finds_the_planted_violation(page):
    project, slow, _fast, end = _world()
    plant_underpaid(project, slow, end + timedelta(minutes=5))
    auditor = user_factory("auditor")
    login(page, auditor.username)
    page.goto("/audit/reports/")
    page.get_by_label("From").fill((T0 - timedelta(days=1)).date().isoformat())
    page.get_by_label("To").fill((end + timedelta(days=1)).date().isoformat())
    page.get_by_role("button", name="Run the report").click()
    page.wait_for_load_state("domcontentloaded")
    for _ in range(20):  # the job runs in the test server's worker (eager) or a moment later
        if page.get_by_test_id("summary").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    violations = page.get_by_test_id("violations")
    assert "fair-pay-floor" in violations.inner_text()
    assert slow.profile.pseudonym in violations.inner_text()
    assert slow.username not in page.content()
    # Violations come before the figures.
    box_v = violations.bounding_box()
    box_s = page.get_by_test_id("summary").bounding_box()
    assert box_v["y"] < box_s["y"]
    assert page.locator("[data-testid=histogram] rect").count() >= 1
    assert page.locator("[data-testid=histogram] line").count() == 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.startswith("pseudonym,project_id,project,paid_hours")
    assert slow.profile.pseudonym in text and "false" in text
    assert axe_violations(page) == []
