"""Playwright driving Debian's Chromium (/usr/bin/chromium) against pytest-django's live server.

Playwright's own browser download cannot work here: we always pass executable_path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, missing
from tests.factories import PASSWORD

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI || "inline"} at ${where}`);
});
"""


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):
        missing(f"needs Chromium at {CHROMIUM}: apt-get install chromium")  # fails in CI
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    context = browser.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Content-Security-Policy: Chromium reports each refusal on the console; the listener adds
    # the directive and the source, on every page the test opens.
    context.add_init_script(CSP_LISTENER)
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if "Content Security Policy" in msg.text or msg.text.startswith("CSP violation")
            else None
        ),
    )
    page.js_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def login(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("domcontentloaded")


def axe_violations(page, *, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (vendored from the npm registry) on the page; return the bad violations."""
    # Evaluated, not added as a <script> element: the page's CSP refuses inline scripts.
    page.evaluate(AXE.read_text())
    results = page.evaluate("async () => await axe.run(document)")
    return [v for v in results["violations"] if v["impact"] in impacts]
