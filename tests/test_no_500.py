"""Inputs that once answered 500 (issue 13, "No 500s"): each is a 400 in the usual error shape.

They run on PostgreSQL, whose text and jsonb columns refuse a NUL character and whose numeric
columns refuse digits beyond their precision: SQLite would have stored them all."""

from __future__ import annotations

import json

import pytest

from labeling.models import Project
from tests.factories import project_factory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

VALID = {
    "title": "Sentiment",
    "task_type": "text_classification",
    "labels": ["pos", "neg"],
    "price_per_task": "0.10",
    "estimated_seconds_per_task": 20,
}


def assert_error_shape(response, code: str | None = None) -> dict:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["detail"], str) and body["detail"]
    if code:
        assert body["error"] == code, body
    return body


NUL_INPUTS = [
    pytest.param({"labels": ["a\u0000b"]}, id="label"),
    pytest.param({"labels": [{"value": "a\u0000b"}]}, id="label-object"),
    pytest.param({"labels": [{"value": "pos", "hotkey": "\u0000"}]}, id="hotkey"),
    pytest.param({"labels": [{"value": "pos", "color": "#00000\u0000"}]}, id="color"),
    pytest.param({"labels": [{"value": "pos", "\u0000": "x"}]}, id="label-key"),
    pytest.param({"labels": ["pos", "tab\there"]}, id="label-control"),
    pytest.param({"title": "a\u0000b"}, id="title"),
    pytest.param({"instructions": "read \u0000 me"}, id="instructions"),
    pytest.param({"content_categories": ["hate\u0000"]}, id="category"),
    pytest.param({"price_per_task": "0.1\u00000"}, id="price"),
]


@pytest.mark.parametrize("change", NUL_INPUTS)
def test_a_nul_character_is_a_400_on_create_and_edit(owner, client_for, change):
    client = client_for(owner)
    assert_error_shape(client.post("/api/projects/", {**VALID, **change}, format="json"))
    project = project_factory(owner)
    assert_error_shape(client.patch(f"/api/projects/{project.pk}/", change, format="json"))
    assert Project.objects.filter(owner=owner).count() == 1


PRICES = [
    "1e400",
    "1E+5000",
    "99999999999.00",
    "100000000.00",
    "NaN",
    "Infinity",
    "-Infinity",
    "sNaN",
    "-0.01",
    "0.001",
    "1e-400",
    "",
    " ",
    "0x10",
    "1_000",
]


@pytest.mark.parametrize("price", PRICES)
def test_an_impossible_price_is_a_400_on_create_and_edit(owner, client_for, price):
    client = client_for(owner)
    body = assert_error_shape(
        client.post("/api/projects/", {**VALID, "price_per_task": price}, format="json")
    )
    assert "price_per_task" in json.dumps(body)
    project = project_factory(owner)
    assert_error_shape(
        client.patch(f"/api/projects/{project.pk}/", {"price_per_task": price}, format="json")
    )


def test_the_largest_price_that_fits_is_accepted(owner, client_for):
    response = client_for(owner).post(
        "/api/projects/", {**VALID, "price_per_task": "99999999.99"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["price_per_task"] == "99999999.99"


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("depth", [200, 900, 950, 1000, 5000, 100_000])
def test_deeply_nested_json_is_a_400_everywhere(owner, annotator, client_for, depth):
    project = project_factory(owner, tasks=1, publish=True)
    bodies = [
        ("/api/projects/", nested(depth)),
        ("/api/projects/", '{"title": "t", "labels": ' + nested(depth) + "}"),
        (f"/api/projects/{project.pk}/", '{"labels": ' + nested(depth) + "}"),
    ]
    for path, body in bodies:
        method = client_for(owner).patch if path.count("/") > 3 else client_for(owner).post
        response = method(path, body, content_type="application/json")
        assert_error_shape(response)
    assignment = client_for(annotator).post(f"/api/projects/{project.pk}/next/").json()
    response = client_for(annotator).post(
        f"/api/assignments/{assignment['assignment']}/submit/",
        '{"result": {"label": ' + nested(depth, '"pos"') + "}}",
        content_type="application/json",
    )
    assert_error_shape(response)


def test_moderate_nesting_still_parses(owner, client_for):
    """The limit refuses only what no client needs: 64 levels are fine."""
    response = client_for(owner).post(
        "/api/projects/",
        json.dumps({**VALID, "labels": ["pos", {"value": "neg", "x": json.loads(nested(60))}]}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    "result",
    [
        {"label": ["pos"]},
        {"label": {"pos": 1}},
        {"label": 1e400},
        {"label": "pos\u0000"},
        {"label": "pos", "note": "\u0000"},
    ],
)
def test_a_malformed_result_is_a_400(owner, annotator, client_for, result):
    project = project_factory(owner, tasks=1, publish=True)
    assignment = client_for(annotator).post(f"/api/projects/{project.pk}/next/").json()
    response = client_for(annotator).post(
        f"/api/assignments/{assignment['assignment']}/submit/",
        json.dumps({"result": result}),
        content_type="application/json",
    )
    assert_error_shape(response)


def test_a_username_longer_than_any_user_is_a_400(db, client):
    """django-axes records the username of a failed log-in in a varchar(255): a longer one was a
    DataError (500) on PostgreSQL, found by schemathesis."""
    response = client.post(
        "/api/auth/token/",
        {"username": "u" * 300, "password": "x"},
        content_type="application/json",
    )
    assert_error_shape(response)


def test_api_errors_are_json_whatever_the_url_or_the_accept_header(owner, client_for):
    """Found by schemathesis: a path that matches no route (/api/exports/true/) was Django's HTML
    404, and an error on a download asked for as a file was rendered as the dict's keys."""
    response = client_for(owner).get("/api/exports/true/")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}
    for accept in ("application/zip", "text/csv", "*/*"):
        response = client_for(owner).get(f"/api/exports/{987654321}/zip/", HTTP_ACCEPT=accept)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/projects/99999999999999999999/",
        "/api/projects/9223372036854775808/next/",
        "/api/assignments/9999999999999999999/submit/",
        "/api/exports/99999999999999999999/download/",
        "/projects/99999999999999999999/",
        "/label/99999999999999999999/",
    ],
)
def test_an_id_past_bigint_is_a_404(owner, client_for, path):
    """Found by schemathesis: PostgreSQL's "bigint out of range" was a 500."""
    response = client_for(owner).get(path)
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("/api/me/", {"HTTP_AUTHORIZATION": "Token abc\x00def"}),
        ("/api/me/", {"HTTP_AUTHORIZATION": "Token " + "g" * 40}),
        ("/api/me/", {"HTTP_COOKIE": "sessionid=abcdefghij\x00kl"}),
        ("/projects/", {"HTTP_COOKIE": "sessionid=abcdefghij\x00kl"}),
    ],
)
def test_a_crafted_token_or_session_cookie_is_no_credential(db, client, path, header):
    """A NUL in the token or the session key reached PostgreSQL: a 500."""
    response = client.get(path, **header)
    assert response.status_code in (401, 302)
