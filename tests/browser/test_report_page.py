"""An auditor opens a report on real work in Chromium: the histogram with the floor, the CSV,
and the violation the test planted, first and in red."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User

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


def test_on_the_demo_data_the_auditor_sees_the_charts_the_csv_and_a_planted_break_violation(page):
    """The issue's done-when: `manage.py demo` (a past week of work by four demo workers,
    settled) and one violation the test plants — a due break that was cut short."""
    from django.core.management import call_command
    from django.utils import timezone

    from payments.selectors import last_period_end
    from workers.models import Break

    call_command("demo", stdout=open("/dev/null", "w"))
    worker = User.objects.get(username="demo-worker-2")
    midnight = last_period_end()
    started = midnight - timedelta(days=2) + timedelta(hours=16)
    Break.objects.create(
        annotator=worker,
        kind=Break.Kind.DUE,
        started_at=started,
        ends_at=started + timedelta(minutes=10),
        ended_at=started + timedelta(minutes=2),  # what the rules never allow
        paid_seconds=120,
    )
    login(page, "auditor", "audit-fairly")
    page.goto("/audit/reports/")
    page.get_by_label("From").fill((midnight - timedelta(days=7)).date().isoformat())
    page.get_by_label("To").fill(timezone.now().date().isoformat())
    page.get_by_role("button", name="Run the report").click()
    page.wait_for_load_state("domcontentloaded")
    for _ in range(20):
        if page.get_by_test_id("summary").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    violations = page.get_by_test_id("violations")
    assert "breaks" in violations.inner_text() and "ended early" in violations.inner_text()
    assert worker.profile.pseudonym in violations.inner_text()
    assert "demo-worker" not in page.content()
    # The charts: pay against the floor, hours per day per pseudonym, sensitive time.
    assert page.locator("[data-testid=histogram] line").count() == 1
    assert page.locator("[data-testid=days-chart] rect").count() >= 4 * 4
    assert page.locator("[data-testid=categories-chart] rect").count() == 2
    assert page.get_by_test_id("summary").get_by_text("4", exact=True).count() >= 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    rows = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert rows[0].startswith("pseudonym,project_id") and len(rows) == 1 + 4
    assert worker.profile.pseudonym in "\n".join(rows)
    assert axe_violations(page) == []
