"""Log-in protection that holds behind a proxy (issue 13, "Log-in and headers").

* The client address believes X-Forwarded-For only from FAIRLABEL_TRUSTED_PROXIES, for the
  token throttle and for django-axes alike.
* A stranger's wrong passwords delay the owner's log-in by at most the cap, never lock it.
* Guessing is stopped: per username (a growing delay from any address) and per address.
* A whole shift signing in from one office address is never throttled.
* With Redis down the token log-in still works, quickly.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import RequestFactory
from rest_framework.test import APIClient

from fairlabel.client_ip import client_ip
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token/"
PROXY = "10.0.0.5"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def address(remote: str, forwarded: str | None = None) -> str:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


def test_forwarded_for_is_ignored_without_trusted_proxies(settings):
    settings.FAIRLABEL_TRUSTED_PROXIES = []
    assert address("198.51.100.9", "1.2.3.4") == "198.51.100.9"


def test_forwarded_for_is_read_from_the_right_behind_trusted_proxies(settings):
    settings.FAIRLABEL_TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
    # The client wrote "1.2.3.4" itself; our proxy appended the address it saw.
    assert address(PROXY, "1.2.3.4, 203.0.113.7") == "203.0.113.7"
    assert address(PROXY, "203.0.113.7, 10.0.0.9") == "203.0.113.7"  # two of our hops
    assert address(PROXY, "[2001:db9::1]:443") == "2001:db9::1"
    assert address(PROXY, "not-an-address, 203.0.113.7") == "203.0.113.7"
    assert address(PROXY, "203.0.113.7, junk") == PROXY  # unreadable: stop at our proxy
    assert address(PROXY) == PROXY
    assert address("198.51.100.9", "1.2.3.4") == "198.51.100.9"  # not our proxy


def post_token(client: APIClient, username: str, password: str, **meta):
    return client.post(TOKEN, {"username": username, "password": password}, format="json", **meta)


def test_rotating_forwarded_for_does_not_escape_the_token_rate(settings, make_user):
    settings.FAIRLABEL_LOGIN_RATE = "3/min"
    user = make_user("annotator")
    client = APIClient(REMOTE_ADDR="192.0.2.77")  # its own address: the cache outlives tests
    answers = [
        post_token(client, user.username, PASSWORD, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}").status_code
        for n in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    body = post_token(client, user.username, PASSWORD).json()
    assert body["error"] == "throttled" and body["retry_after"] >= 1


def test_axes_counts_failures_per_real_client_behind_the_proxy(settings, make_user):
    settings.FAIRLABEL_TRUSTED_PROXIES = [PROXY]
    settings.AXES_FAILURE_LIMIT = 3
    settings.FAIRLABEL_LOGIN_FREE_FAILURES = 100  # only the address rule here
    guesser, colleague = "203.0.113.66", "203.0.113.7"
    victim, honest = make_user("owner"), make_user("annotator")
    client = APIClient(REMOTE_ADDR=PROXY)
    for _ in range(3):
        post_token(client, victim.username, "wrong", HTTP_X_FORWARDED_FOR=guesser)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {guesser}
    refused = post_token(client, honest.username, PASSWORD, HTTP_X_FORWARDED_FOR=guesser)
    assert refused.status_code == 429
    assert refused.json()["error"] == "locked_out"
    ok = post_token(client, honest.username, PASSWORD, HTTP_X_FORWARDED_FOR=colleague)
    assert ok.status_code == 200


def test_a_stranger_cannot_lock_out_the_owner_from_a_shared_address(settings, make_user):
    """Behind an unconfigured proxy everyone shares one address: the worst case."""
    settings.FAIRLABEL_TRUSTED_PROXIES = []
    owner, admin = make_user("owner"), make_user("admin")
    stranger, person = APIClient(REMOTE_ADDR=PROXY), APIClient(REMOTE_ADDR=PROXY)
    with time_machine.travel(T0, tick=False) as clock:
        for target in (owner, admin):
            for _ in range(40):  # keeps trying, once a second, through the delays
                post_token(stranger, target.username, "wrong")
                clock.shift(timedelta(seconds=1))
            delayed = post_token(person, target.username, PASSWORD)
            assert delayed.status_code == 429
            assert delayed.json()["error"] == "login_delayed"
            cap = settings.FAIRLABEL_LOGIN_MAX_DELAY_SECONDS
            assert 1 <= int(delayed["Retry-After"]) <= cap
            clock.shift(timedelta(seconds=int(delayed["Retry-After"])))
            assert post_token(person, target.username, PASSWORD).status_code == 200
            # the success cleared the delay for everyone
            assert post_token(stranger, target.username, "wrong").json()["error"] == (
                "invalid_credentials"
            )


def test_guessing_one_account_is_slowed_whatever_the_address(settings, make_user):
    settings.FAIRLABEL_TRUSTED_PROXIES = [PROXY]
    victim = make_user("owner")
    client = APIClient(REMOTE_ADDR=PROXY)
    with time_machine.travel(T0, tick=False) as clock:
        answers = []
        for n in range(8):
            response = post_token(
                client, victim.username, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
            )
            answers.append(response.json()["error"])
            clock.shift(timedelta(milliseconds=100))
        free = settings.FAIRLABEL_LOGIN_FREE_FAILURES
        assert answers == ["invalid_credentials"] * free + ["login_delayed"] * (8 - free)
        # Waits grow: 1 s after the 5th failure, 2 s after the 6th, ...
        clock.shift(timedelta(seconds=1))
        assert post_token(client, victim.username, "wrong").json()["error"] == (
            "invalid_credentials"
        )
        delayed = post_token(client, victim.username, PASSWORD)
        assert delayed.json()["retry_after"] == 2
        clock.shift(timedelta(seconds=2))
        assert post_token(client, victim.username, PASSWORD).status_code == 200


def test_too_many_failures_from_one_address_lock_that_address(settings, make_user):
    settings.AXES_FAILURE_LIMIT = 10
    users = [make_user("annotator") for _ in range(11)]
    client = APIClient()
    for user in users[:9]:  # spraying: one guess per account
        failed = post_token(client, user.username, "wrong")
        assert failed.status_code == 400, failed.content
    # the 10th failure reaches the limit and is answered as a lock-out
    assert post_token(client, users[9].username, "wrong").json()["error"] == "locked_out"
    refused = post_token(client, users[10].username, PASSWORD)
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "locked_out"
    assert body["retry_after"] == int(refused["Retry-After"]) > 60
    assert (
        APIClient(REMOTE_ADDR="192.0.2.1")
        .post(TOKEN, {"username": users[10].username, "password": PASSWORD}, format="json")
        .status_code
        == 200
    )


def test_the_log_in_page_says_so_in_html(client, make_user):
    user = make_user("owner")
    for _ in range(5):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert "wait 1 seconds" in response.content.decode()


def test_a_whole_shift_signs_in_from_one_office_address(make_user):
    """The old limit (30 a minute per address) refused the 31st person of a shift."""
    people = [make_user("annotator") for _ in range(120)]
    office = APIClient(REMOTE_ADDR="203.0.113.50")
    with time_machine.travel(T0, tick=False):
        # a few mistype first, as people do
        for person in people[:20]:
            assert post_token(office, person.username, "typo").status_code == 400
        answers = [post_token(office, p.username, PASSWORD).status_code for p in people]
    assert answers == [200] * len(people)


@pytest.mark.parametrize("redis", ["closed", "hanging"])
def test_token_log_in_works_with_redis_down(settings, make_user, redis):
    """Closed: nothing listens on the port. Hanging: a socket accepts and never answers, the
    way a stuck Redis or a black-holed network does; the cache's 1 s timeout bounds it."""
    with socket.socket() as hanging:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(16)
        port = hanging.getsockname()[1] if redis == "hanging" else 6390
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/0",
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            }
        }
        user = make_user("annotator")
        started = time.monotonic()
        response = post_token(APIClient(), user.username, PASSWORD)
        assert response.status_code == 200, response.content
        assert time.monotonic() - started < 3
