"""The work record in the browser: an annotator opens it from its earnings, downloads the JSON,
and the public check page, with no one signed in, confirms the file against the ledger."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from payments import services
from payments.selectors import earnings_of
from tests.browser.conftest import axe_violations, login
from tests.factories import project_factory, user_factory
from tests.payments.test_pay import T0, _work

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_annotator_downloads_its_record_and_the_check_page_accepts_it(page, tmp_path):
    owner, annotator = user_factory("owner"), user_factory("annotator")
    project = project_factory(owner, tasks=2, publish=True)
    start = T0
    for _ in range(2):
        _assignment, start = _work(annotator, project, seconds=300, start=start)
    services.settle_now(cutoff=start + timedelta(minutes=1))

    login(page, annotator.username)
    page.goto("/earnings/")
    page.get_by_test_id("work-record-link").click()
    page.wait_for_load_state("domcontentloaded")
    earned = earnings_of(annotator=annotator)["earned"]
    assert page.get_by_test_id("record-earned").inner_text() == f"{earned} USD"
    assert page.get_by_test_id("record-tasks").inner_text() == "2"
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_test_id("download-json").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    document = json.loads(saved.read_text())
    assert document["record"]["totals"]["earned"] == earned
    assert page.get_by_test_id("record-hash").inner_text() == document["record_hash"]

    page.context.clear_cookies()  # the bank is not signed in
    page.goto("/work-record/verify/")
    page.get_by_label("Work record").set_input_files(str(saved))
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state("domcontentloaded")
    verdict = page.get_by_test_id("verdict")
    assert verdict.get_attribute("data-ok") == "true"
    assert "Confirmed by the ledger" in verdict.inner_text()
    assert axe_violations(page) == []

    document["record"]["totals"]["earned"] = "9999.00"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    page.get_by_label("Work record").set_input_files(str(forged))
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state("domcontentloaded")
    assert page.get_by_test_id("verdict").get_attribute("data-ok") == "false"
    assert page.locator("[data-code=record_hash_mismatch]").count() == 1
