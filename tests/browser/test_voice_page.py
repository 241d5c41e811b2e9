"""An annotator tells the auditors something about a project through its page, anonymously;
an auditor reads it on /audit/voice/, found from the reports page."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, login
from tests.factories import project_factory, user_factory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_annotator_sends_a_message_and_an_auditor_reads_it(page):
    project = project_factory(tasks=1, publish=True, title="Street signs")
    annotator = user_factory("annotator", username="zq9-voice-sender")
    login(page, annotator.username)
    page.goto("/label/")
    page.get_by_role("link", name="Tell the auditors, anonymously").click()
    page.wait_for_load_state("domcontentloaded")
    assert "What is not stored" in page.get_by_test_id("voice-promise").inner_text()
    page.get_by_label("Topic").select_option("time")
    page.get_by_label("Your message").fill("No break was given after two hours of work.")
    page.get_by_role("button", name="Send anonymously").click()
    page.wait_for_load_state("domcontentloaded")
    assert "Received" in page.get_by_test_id("voice-sent").inner_text()
    assert page.get_by_label("Your message").input_value() == ""
    assert axe_violations(page) == []

    page.get_by_role("button", name="Log out").click()
    login(page, user_factory("auditor").username)
    page.goto("/audit/reports/")
    page.get_by_role("link", name="Read the messages").click()
    page.wait_for_load_state("domcontentloaded")
    page.get_by_label("Project").select_option(label="Street signs")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state("domcontentloaded")
    table = page.get_by_test_id("voice-messages").inner_text()
    assert "No break was given after two hours of work." in table
    assert "Street signs" in table and "Working time and breaks" in table
    assert annotator.username not in page.content()
    assert f"project={project.pk}" in page.url
    assert axe_violations(page) == []
