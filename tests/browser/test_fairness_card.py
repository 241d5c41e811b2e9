"""An owner copies its project's fairness-card link; a browser that never signed in opens it and
reads the floor and the figures, with no annotator named, printable and accessible."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.browser.conftest import axe_violations, login
from tests.labeling.test_provenance import world  # noqa: F401  (the planted working time)

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_anonymous_browser_opens_the_shared_card(page, browser, live_server, world):  # noqa: F811
    project, a, b = world
    cache.clear()
    login(page, project.owner.username)
    page.goto(f"/projects/{project.pk}/")
    field = page.get_by_label("Link to share")
    link = field.input_value()
    assert link.startswith(f"{live_server.url}/fair/")
    assert field.get_attribute("readonly") is not None

    anonymous = browser.new_context(locale="en-US")
    try:
        card = anonymous.new_page()
        card.goto(link)
        assert card.get_by_role("heading", level=1).inner_text().startswith("Fairness card")
        assert card.get_by_role("link", name="Log in").is_visible()  # nobody is signed in
        assert card.get_by_test_id("floor").inner_text() == "12.00 USD/h"
        verdict = card.get_by_test_id("floor-verdict").inner_text()
        assert "paid at least the floor of 12.00 USD an hour" in verdict
        assert card.get_by_test_id("annotators").inner_text() == "2"
        assert card.get_by_test_id("median").inner_text().endswith("USD/h")
        assert card.get_by_test_id("breaks-due").inner_text() == "4"
        assert card.get_by_test_id("sensitive-hours").inner_text() == "1.000"
        rows = card.get_by_test_id("categories").locator("tbody tr")
        assert rows.first.inner_text().split() == ["Violence", "1.000"]
        policies = card.get_by_test_id("policies").inner_text()
        assert "Hourly pay floor" in policies and "Prolific" in policies
        assert len(card.get_by_test_id("ledger-head").inner_text()) == 64
        content = card.content()
        for user in (a, b):
            assert user.username not in content and user.profile.pseudonym not in content
        assert axe_violations(card) == []
        # Printed, the card keeps its figures and drops the site's navigation.
        card.emulate_media(media="print")
        assert not card.locator("header.topbar").is_visible()
        assert card.get_by_test_id("floor").is_visible()
        # The machines' twin.
        twin = card.request.get(link.rstrip("/") + ".json")
        assert twin.ok and twin.json()["floor_hourly"] == "12.00"
    finally:
        anonymous.close()
