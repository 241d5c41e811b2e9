"""Fixtures shared by the whole suite.

Tests that need PostgreSQL, Redis or Chromium are marked; where the service is missing they skip
on a developer's machine and fail in CI (FAIRLABEL_REQUIRE_SERVICES=1, set by .ci/run)."""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.db import connection

REQUIRE = os.environ.get("FAIRLABEL_REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("FAIRLABEL_CHROMIUM", "/usr/bin/chromium")
# Playwright's sync API runs an event loop in the test thread; Django must still allow ORM use.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def missing(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (FAIRLABEL_REQUIRE_SERVICES=1: this must not be skipped)")
    pytest.skip(reason)


def _redis_reachable() -> bool:
    url = os.environ.get("REDIS_URL")
    if not url:
        return False
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        missing("needs PostgreSQL: set DATABASE_URL=postgres://...")
    if item.get_closest_marker("redis") and not _redis_reachable():
        missing("needs Redis: set REDIS_URL=redis://...")
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        missing(f"needs Chromium at {CHROMIUM}: apt-get install chromium")


@pytest.fixture(autouse=True)
def _fresh_policy_caches():
    """Gates, hooks and checks are loaded once per process; tests may change the settings."""
    from labeling.policies import _load

    _load.cache_clear()
    yield
    _load.cache_clear()


@pytest.fixture
def make_user(db):
    from tests.factories import user_factory

    return user_factory


@pytest.fixture
def annotator(make_user):
    return make_user("annotator")


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def auditor(make_user):
    return make_user("auditor")


@pytest.fixture
def admin_user(make_user):
    return make_user("admin")


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_for(db):
    """An API client authenticated by token as the given user."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make
