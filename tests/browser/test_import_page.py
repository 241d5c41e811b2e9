"""As an owner would: open a project, upload a JSONL file, watch the progress bar reach done,
then upload a bad file and read the errors."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, login
from tests.factories import project_factory, user_factory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _roles(transactional_db):
    # transaction=True flushes the tables after each test, role groups of the data migration too.
    from django.contrib.auth.models import Group

    from accounts.roles import Role

    for role in Role:
        Group.objects.get_or_create(name=role.value)


def test_owner_imports_a_file_and_reads_the_errors_of_a_bad_one(page, tmp_path):
    owner = user_factory("owner", username="olga")
    project = project_factory(owner, title="Reviews")
    good = tmp_path / "reviews.jsonl"
    good.write_text("".join(f'{{"id": "r{n}", "text": "review number {n}"}}\n' for n in range(25)))
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"text": "fine"}\n{"txt": "typo"}\n{"id": "r1", "text": "again"}\n[1, 2]\n')

    login(page, "olga")
    page.goto(f"/projects/{project.pk}/")
    imports = page.get_by_test_id("imports")
    expect(imports.get_by_role("heading", name="Import tasks")).to_be_visible()

    imports.get_by_label("Format").select_option("auto")
    imports.get_by_label("File").set_input_files(str(good))
    imports.get_by_role("button", name="Import").click()
    job = page.get_by_test_id("import-job")
    expect(job).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("import-state")).to_have_text("Done")
    expect(page.get_by_test_id("import-counts")).to_have_text(
        re.compile(r"25 rows read\s*·\s*25 imported")
    )
    progress = job.get_by_role("progressbar", name="Import progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    expect(page.get_by_test_id("import-done")).to_contain_text("Imported 25 tasks.")
    assert not job.get_attribute("hx-trigger")  # polling stopped
    page.get_by_role("link", name="Show the tasks").click()
    expect(page.get_by_test_id("tasks")).to_contain_text("review number 0")

    # The latest import is shown again when the page opens.
    expect(page.get_by_test_id("import-job")).to_have_attribute("data-status", "done")
    imports = page.get_by_test_id("imports")
    imports.get_by_label("Format").select_option("jsonl")
    imports.get_by_label("File").set_input_files(str(bad))
    imports.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-job")).to_have_attribute("data-status", "failed")
    errors = page.get_by_test_id("import-errors").get_by_role("listitem")
    expect(errors).to_have_count(3)
    expect(errors.nth(0)).to_have_text(
        "line 2: the field “text” is missing: tasks of type “Text classification” need it"
    )
    expect(errors.nth(1)).to_have_text(
        "line 3: a task with the id “r1” already exists in this project"
    )
    expect(errors.nth(2)).to_have_text("line 4: each task must be a JSON object, not a list")
    expect(page.get_by_role("alert")).to_contain_text("Nothing was imported: 3 problems")
    assert project.tasks.count() == 25
    assert axe_violations(page) == []


def test_an_unknown_format_is_explained(page, tmp_path):
    owner = user_factory("owner", username="omar")
    project = project_factory(owner)
    sheet = tmp_path / "tasks.xlsx"
    sheet.write_bytes(b"PK\x03\x04 not really")
    login(page, "omar")
    page.goto(f"/projects/{project.pk}/")
    page.get_by_label("File").set_input_files(str(sheet))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-problem")).to_contain_text("Cannot tell the format")
