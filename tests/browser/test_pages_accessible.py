"""axe-core (vendored from the npm registry) on every page a role lands on: no serious or
critical violation."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, login
from tests.factories import project_factory, user_factory

pytestmark = pytest.mark.django_db(transaction=True)


def _check(page, path: str) -> None:
    page.goto(path)
    bad = axe_violations(page)
    assert bad == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]


def test_owner_pages_are_accessible(page):
    owner = user_factory("owner")
    project = project_factory(owner, tasks=2, publish=True)
    login(page, owner.username)
    for path in (
        "/projects/",
        "/projects/new/",
        f"/projects/{project.pk}/edit/",
        f"/projects/{project.pk}/",
        "/rules/",
    ):
        _check(page, path)


def test_annotator_and_auditor_pages_are_accessible(page):
    project_factory(tasks=1, publish=True, content_categories=["violence"])
    login(page, user_factory("annotator").username)
    _check(page, "/label/")
    page.get_by_role("button", name="Log out").click()
    login(page, user_factory("auditor").username)
    _check(page, "/audit/")
