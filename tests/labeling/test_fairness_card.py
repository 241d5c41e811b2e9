"""The public fairness card: anyone with the link reads it without signing in; it names nobody;
a forged link is a 404; only the people who may share it are given the link."""

from __future__ import annotations

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client

from labeling.exporting import selectors, services
from tests.labeling.test_provenance import world  # noqa: F401  (the planted working time)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cached_cards():
    cache.clear()
    yield
    cache.clear()


def _secrets(*annotators) -> list[str]:
    found = []
    for user in annotators:
        user.email = f"{user.username}@mail.example.org"
        user.save(update_fields=["email"])
        found += [user.username, user.email, user.profile.pseudonym]
    return found


def test_anyone_reads_the_card_without_signing_in_and_it_names_nobody(world):  # noqa: F811
    project, a, b = world
    response = Client().get(selectors.fairness_card_path(project))
    assert response.status_code == 200
    html = response.content.decode()
    for secret in _secrets(a, b):
        assert secret not in html
    assert "12.00 USD/h" in html  # the floor
    assert project.title in html
    assert 'data-testid="annotators">2<' in html
    assert 'data-testid="breaks-due">4<' in html and 'data-testid="breaks-taken">2<' in html
    assert "Prolific" in html and "YouTube" in html  # policies with their sources
    assert "On 1 working day, an annotator passed the daily cap" in html
    assert "Log in" in html  # the anonymous header of base.html
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_json_twin_is_the_record_summarised_without_pseudonyms(world):  # noqa: F811
    project, a, b = world
    response = Client().get(selectors.fairness_card_path(project, fmt="json"))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    text = response.content.decode()
    for secret in _secrets(a, b):
        assert secret not in text
    card = response.json()
    assert "per_annotator" not in card and "id" not in card["project"]
    record = services.project_provenance(project=project)
    for key in ("annotators", "paid_hours", "floor_hourly", "meets_floor", "topups", "breaks"):
        assert card[key] == record[key], key
    assert card["exposure"] == record["exposure"] and card["policies"] == record["policies"]
    assert card["effective_hourly_distribution"] == record["effective_hourly_distribution"]
    assert card["ledger"] == {"head": record["ledger_head"], "last_verification": None}
    assert card["computed_at"] and card["below_floor_after_topup"] == 0


@pytest.mark.parametrize(
    "forge",
    [
        lambda p: selectors.fairness_card_token(p)[:-2] + "xx",  # altered signature
        lambda p: signing.Signer(salt="another.salt").sign_object(p.pk),  # another salt
        lambda p: signing.Signer(salt=selectors.CARD_SALT).sign_object(10**9),  # no project
        lambda p: signing.Signer(salt=selectors.CARD_SALT).sign_object("1"),  # not an id
    ],
)
def test_a_forged_token_is_a_404(forge, world):  # noqa: F811
    project, _a, _b = world
    token = forge(project)
    assert Client().get(f"/fair/{token}/").status_code == 404
    assert Client().get(f"/fair/{token}.json").status_code == 404


def test_the_link_is_stable_and_differs_per_project(world):  # noqa: F811
    from labeling.models import Project

    project, _a, _b = world
    other = Project.objects.exclude(pk=project.pk).first()
    token = selectors.fairness_card_token(project)
    assert selectors.fairness_card_token(project) == token
    assert selectors.fairness_card_token(other) != token
    assert selectors.fairness_card_project(token=token) == project


def test_the_card_is_computed_once_then_kept(world, django_assert_num_queries):  # noqa: F811
    project, _a, _b = world
    first = selectors.fairness_card(project)
    with django_assert_num_queries(0):
        assert selectors.fairness_card(project) == first


def test_owner_sees_the_link_on_the_page_and_in_the_api(world, client_for):  # noqa: F811
    project, _a, _b = world
    link = selectors.fairness_card_path(project)
    page = Client()
    page.force_login(project.owner)
    html = page.get(f"/projects/{project.pk}/").content.decode()
    assert 'data-testid="fairness-card-link"' in html and link in html
    detail = client_for(project.owner).get(f"/api/projects/{project.pk}/").json()
    assert detail["fairness_card_url"] == f"http://testserver{link}"
    assert Client().get(detail["fairness_card_url"]).status_code == 200


def test_auditors_and_admins_get_the_link_annotators_and_other_owners_do_not(
    world,  # noqa: F811
    client_for,
    make_user,
):
    project, a, _b = world
    link = f"http://testserver{selectors.fairness_card_path(project)}"
    for role in ("auditor", "admin"):
        detail = client_for(make_user(role)).get(f"/api/projects/{project.pk}/").json()
        assert detail["fairness_card_url"] == link, role
    response = client_for(a).get(f"/api/projects/{project.pk}/")
    assert response.status_code == 200 and response.json()["fairness_card_url"] is None
    stranger = make_user("owner")
    response = client_for(stranger).get(f"/api/projects/{project.pk}/")
    assert response.status_code == 404 and selectors.fairness_card_token(project) not in str(
        response.content
    )
    page = Client()
    page.force_login(stranger)
    assert page.get(f"/projects/{project.pk}/").status_code == 404
    # The list does not carry the link either.
    listed = client_for(a).get("/api/projects/").json()["results"]
    assert all("fairness_card_url" not in row for row in listed)
