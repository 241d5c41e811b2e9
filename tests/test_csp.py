"""Content-Security-Policy (issue 13): on every response, with no inline script allowed, and no
template that would need one (tests/browser/test_csp.py checks the pages in Chromium)."""

from __future__ import annotations

import re

import pytest

from tests.processes import ROOT

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)


def test_no_template_has_an_inline_script_or_handler():
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, JS_URL):
            offenders += [
                f"{template.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)
            ]
    assert offenders == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/rules/", "/api/me/", "/api/docs/", "/nowhere/"]
)
def test_every_response_carries_the_policy(client, path):
    response = client.get(path)
    policy = dict(
        (part.split()[0], part.split()[1:])
        for part in response["Content-Security-Policy"].split(";")
        if part.strip()
    )
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["default-src"]
