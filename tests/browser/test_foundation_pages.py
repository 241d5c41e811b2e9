"""As a new user would: sign up as an annotator, log out, then log in as each demo role."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.browser.conftest import axe_violations, login

pytestmark = pytest.mark.django_db(transaction=True)

DEMO = [
    ("annotator", "annotate-fairly", "Projects open to you", "/label/"),
    ("owner", "own-fairly", "My projects", "/projects/"),
    ("auditor", "audit-fairly", "Projects under audit", "/audit/"),
    ("admin", "admin-fairly", "Site administration", "/admin/"),
]


def test_signup_logout_and_each_demo_role_sees_its_home(page):
    call_command("demo", no_history=True)
    page.goto("/")
    assert page.url.endswith("/accounts/login/?next=/") or "/accounts/login/" in page.url
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Username").fill("amina")
    page.get_by_label("Password").fill("a-long-and-fine-password")
    page.get_by_label("Country").select_option("KE")
    page.get_by_label("Time zone").select_option("Africa/Nairobi")
    page.get_by_role("button", name="Create my account").click()
    assert page.get_by_role("heading", name="Projects open to you").is_visible()
    assert "Your pseudonym is anno-" in page.content()
    page.get_by_role("button", name="Log out").click()
    assert "/accounts/login/" in page.url

    for username, password, heading, path in DEMO:
        login(page, username, password)
        assert page.url.endswith(path), (username, page.url)
        assert page.get_by_role("heading", name=heading).first.is_visible()
        if username != "admin":
            assert page.get_by_test_id("who").inner_text().endswith(username)
            page.get_by_role("button", name="Log out").click()
        else:
            page.get_by_role("button", name="Log out").first.click()
        page.wait_for_url("**/accounts/login/**")


def test_login_and_signup_pages_are_accessible(page):
    page.goto("/accounts/login/")
    assert axe_violations(page) == []
    page.goto("/accounts/signup/")
    assert axe_violations(page) == []
