from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.roles import Role, role_of
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ROLES = ["annotator", "owner", "auditor", "admin"]
NAV = {
    "annotator": ["/label/"],
    "owner": ["/projects/", "/projects/new/"],
    "auditor": ["/audit/"],
    # The admin lands in the Django admin, whose "View site" leads to all projects.
    "admin": ["/admin/", "/projects/"],
}
ALL_NAV = {url for urls in NAV.values() for url in urls}


def test_token_and_me_for_every_role(make_user, api_client):
    for role in ROLES:
        user = make_user(role)
        response = api_client.post(
            "/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
        )
        assert response.status_code == 200, response.content
        token = response.json()["token"]
        me = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Token {token}")
        assert me.status_code == 200
        body = me.json()
        assert body["role"] == role
        assert body["username"] == user.username
        assert body["pseudonym"] == user.profile.pseudonym
        assert body["pseudonym"].startswith("anno-")


def test_wrong_password_gets_a_json_error(make_user, api_client):
    user = make_user("owner")
    response = api_client.post(
        "/api/auth/token/", {"username": user.username, "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_credentials"


@pytest.mark.parametrize("path", ["/api/me/", "/api/projects/", "/api/projects/1/"])
def test_anonymous_api_requests_are_refused(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.parametrize("path", ["/projects/", "/label/", "/audit/", "/projects/new/"])
def test_anonymous_pages_redirect_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_only_its_own_navigation(make_user, client, role):
    user = make_user(role)
    client.force_login(user)
    home = client.get("/", follow=True)
    assert home.status_code == 200
    html = home.content.decode()
    for url in ALL_NAV:
        link = f'href="{url}"'
        if url in NAV[role]:
            assert link in html, f"{role} should see {url}"
        else:
            assert link not in html, f"{role} must not see {url}"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("annotator", {"/label/"}),
        ("owner", {"/projects/", "/projects/new/"}),
        ("auditor", {"/audit/"}),
        ("admin", {"/projects/", "/projects/new/", "/audit/"}),
    ],
)
def test_pages_are_checked_against_every_role(make_user, client, role, allowed):
    client.force_login(make_user(role))
    for url in ["/label/", "/projects/", "/projects/new/", "/audit/"]:
        status = client.get(url).status_code
        assert status == (200 if url in allowed else 403), (role, url, status)


def test_annotator_signup_creates_profile_and_logs_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "wanjiru",
            "password": "a-long-and-fine-password",
            "country": "KE",
            "timezone": "Africa/Nairobi",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert b"Your pseudonym is anno-" in response.content
    from django.contrib.auth.models import User

    user = User.objects.get(username="wanjiru")
    assert role_of(user) == Role.ANNOTATOR
    assert user.profile.country == "KE"
    assert user.profile.timezone == "Africa/Nairobi"


def test_signup_rejects_unknown_country_and_duplicate_name(client, make_user):
    make_user("annotator", username="taken")
    response = client.post(
        "/accounts/signup/",
        {
            "username": "taken",
            "password": "a-long-and-fine-password",
            "country": "KE",
            "timezone": "UTC",
        },
    )
    assert response.status_code == 200
    assert b"is taken" in response.content
    bad = client.post(
        "/accounts/signup/",
        {"username": "x1", "password": "a-long-pass-123", "country": "XX", "timezone": "UTC"},
    )
    assert b"XX" in bad.content  # the form refuses the choice


def test_login_is_locked_after_repeated_failures(client, make_user):
    user = make_user("owner")
    for _ in range(5):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many attempts" in response.content


def test_adduser_command(db, capsys):
    call_command(
        "adduser", "olga", role="auditor", password="pw", country="fr", timezone="Europe/Paris"
    )
    from django.contrib.auth.models import User

    olga = User.objects.get(username="olga")
    assert role_of(olga) == Role.AUDITOR
    assert olga.profile.country == "FR"
    assert olga.check_password("pw")
    assert "pseudonym anno-" in capsys.readouterr().out


def test_pseudonyms_are_stable_and_distinct(make_user):
    a, b = make_user("annotator"), make_user("annotator")
    assert a.profile.pseudonym != b.profile.pseudonym
    a.refresh_from_db()
    assert a.profile.pseudonym == a.profile.pseudonym


def test_language_follows_the_browser_and_the_switcher(client):
    french = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr")
    assert 'lang="fr"' in french.content.decode()
    assert "Se connecter" in french.content.decode()  # the compiled catalogue is shipped
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr")
    assert 'lang="en"' in english.content.decode()


def test_token_auth_learns_the_role_in_the_same_query(
    make_user, client_for, django_assert_num_queries
):
    client = client_for(make_user("auditor"))
    with django_assert_num_queries(2):  # token + user + role, then the profile
        body = client.get("/api/me/").json()
    assert body["role"] == "auditor"


def test_a_bad_token_is_refused(api_client):
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_token_auth_and_role_of_agree_for_a_user_in_several_groups(make_user, client_for):
    from django.contrib.auth.models import Group

    user = make_user("owner")
    # A group made later gets a higher id than the owner group: order by role, not by id.
    Group.objects.filter(name="annotator").delete()
    user.groups.add(Group.objects.create(name="annotator"))
    user = type(user).objects.get(pk=user.pk)
    assert client_for(user).get("/api/me/").json()["role"] == role_of(user) == Role.ANNOTATOR


def test_token_authenticated_users_have_aware_datetimes(make_user):
    from rest_framework.authtoken.models import Token

    from accounts.authentication import RoleTokenAuthentication

    user = make_user("annotator")
    token = Token.objects.create(user=user)
    found, _ = RoleTokenAuthentication().authenticate_credentials(token.key)
    assert found.pk == user.pk
    assert found.date_joined.tzinfo is not None
    assert found.date_joined == user.date_joined
