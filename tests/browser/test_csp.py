"""The Content-Security-Policy in Chromium (issue 13): every main page is served with it, and
the pages still work under it with no violation reported (the `page` fixture fails a test on any
CSP violation the browser logs, on every page of every browser test)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import project_factory, user_factory

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = "/static/test/shapes-400x300.png"


def _policy(response) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _visit(page, path: str) -> None:
    response = page.goto(path)
    assert response.status < 400, (path, response.status)
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"], (path, policy)
    assert "'unsafe-inline'" not in policy.get("default-src", []), path
    page.wait_for_load_state("load")


def test_the_main_pages_work_under_the_policy(page, settings):
    settings.FAIRLABEL_DISPATCH_GATES = ["labeling.policies.project_open_gate"]
    settings.FAIRLABEL_ASSIGNMENT_HOOKS = []
    _visit(page, "/accounts/login/")
    _visit(page, "/accounts/signup/")
    _visit(page, "/rules/")
    # The language switcher (an inline onchange before) submits itself from base.js.
    with page.expect_navigation():
        page.select_option("#lang-select", "fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    with page.expect_navigation():
        page.select_option("#lang-select", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    owner = user_factory("owner")
    project = project_factory(owner, tasks=2, publish=True)
    project_factory(owner, task_type="image_classification", publish=False, title="Pictures")
    login(page, owner.username)
    _visit(page, "/projects/")
    _visit(page, f"/projects/{project.pk}/")
    # The rate preview (an inline script before) runs from project_form.js.
    _visit(page, "/projects/new/")
    page.fill("#id_price_per_task", "0.10")
    page.fill("#id_estimated_seconds_per_task", "20")
    expect(page.locator("#rate-value")).to_have_text("18.00 USD/h")
    expect(page.locator("#rate-verdict")).to_contain_text("meets the floor of")
    page.fill("#id_price_per_task", "0.01")
    expect(page.locator("#rate-verdict")).to_contain_text("cannot be published")
    _visit(page, "/api/docs/")  # Swagger UI: its start-up script is a file too
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Fairlabel API")
    page.goto("/projects/")
    page.get_by_role("button", name="Log out").click()

    images = project_factory(task_type="image_classification")
    from labeling.services import project_publish, tasks_create

    tasks_create(project=images, rows=[{"data": {"image": IMAGE}}])
    project_publish(project=images)
    login(page, user_factory("annotator").username)
    _visit(page, "/label/")
    _visit(page, f"/label/{images.pk}/")
    page.wait_for_selector("#task-view[data-task-id]")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Nothing left")  # saved, then none left
    from labeling.models import Annotation

    assert Annotation.objects.filter(project=images).count() == 1
    page.get_by_role("button", name="Log out").click()

    login(page, user_factory("auditor").username)
    _visit(page, "/audit/")
    page.get_by_role("button", name="Log out").click()

    admin = user_factory("admin")
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    page.goto("/admin/login/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "a-good-test-password")
    page.click("input[type=submit]")
    _visit(page, "/admin/")
    _visit(page, "/admin/labeling/project/")
