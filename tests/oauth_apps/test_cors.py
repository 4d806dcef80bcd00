"""CORS for single-page apps: token, revoke and userinfo answer registered origins only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from oauth_apps.models import Application
from oauth_apps.services import application_save
from tests.oauth import REVOKE_URL, TOKEN_URL, USERINFO_URL, AuthorizationRequest

SPA = "https://spa.example.com"
OTHER_SPA = "https://other-spa.example.com"
STRANGER = "https://evil.example.net"


@pytest.fixture
def spa(make_application):
    application, _ = make_application(name="Trial Diary", allowed_origins=(SPA,))
    return application


@pytest.fixture
def other_spa(make_application):
    application, _ = make_application(name="Other Diary", allowed_origins=(OTHER_SPA,))
    return application


def preflight(client, url: str, origin: str, method: str = "POST"):
    return client.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.mark.parametrize("url", [TOKEN_URL, REVOKE_URL, USERINFO_URL])
def test_preflight_from_a_registered_origin_is_allowed(client, spa, url):
    response = preflight(client, url, SPA)

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SPA
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert {"Authorization", "Content-Type"} <= set(response["Access-Control-Allow-Headers"].split(", "))
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "Origin" in response["Vary"]
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize("url", [TOKEN_URL, REVOKE_URL, USERINFO_URL])
def test_preflight_from_an_unregistered_origin_gets_no_cors_headers(client, spa, url):
    response = preflight(client, url, STRANGER)

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Methods" not in response


def test_token_response_is_readable_by_the_clients_own_origin_only(oauth, spa, other_spa):
    request = AuthorizationRequest(client_id=spa.client_id)
    tokens = oauth.exchange(request, oauth.authorize(request)).json()
    refresh = {"grant_type": "refresh_token", "client_id": spa.client_id}

    own = oauth.token({**refresh, "refresh_token": tokens["refresh_token"]}, {"Origin": SPA})
    others = oauth.token({**refresh, "refresh_token": own.json()["refresh_token"]}, {"Origin": OTHER_SPA})
    stranger = oauth.token({**refresh, "refresh_token": others.json()["refresh_token"]}, {"Origin": STRANGER})

    assert own.status_code == others.status_code == stranger.status_code == 200  # answered as usual
    assert own["Access-Control-Allow-Origin"] == SPA
    assert "Access-Control-Allow-Origin" not in others
    assert "Access-Control-Allow-Origin" not in stranger
    for response in (own, others, stranger):
        assert "Origin" in response["Vary"]
        assert "Access-Control-Allow-Credentials" not in response


def test_token_errors_after_client_identification_are_readable(oauth, spa):
    response = oauth.token(
        {"grant_type": "refresh_token", "client_id": spa.client_id, "refresh_token": "stale"}, {"Origin": SPA}
    )

    assert response.json()["error"] == "invalid_grant"
    assert response["Access-Control-Allow-Origin"] == SPA


def test_revocation_answers_the_clients_origin(oauth, spa, other_spa):
    tokens = oauth.minted_tokens_for(spa)

    own = oauth.token({"token": tokens["refresh_token"], "client_id": spa.client_id}, {"Origin": SPA}, url=REVOKE_URL)
    other = oauth.token(
        {"token": tokens["access_token"], "client_id": spa.client_id}, {"Origin": OTHER_SPA}, url=REVOKE_URL
    )

    assert own.status_code == other.status_code == 200
    assert own["Access-Control-Allow-Origin"] == SPA
    assert "Access-Control-Allow-Origin" not in other


def test_userinfo_answers_the_origin_of_the_client_the_token_was_issued_to(oauth, spa, other_spa):
    token = oauth.minted_tokens_for(spa)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    own = oauth.client.get(USERINFO_URL, headers={**headers, "Origin": SPA})
    other = oauth.client.get(USERINFO_URL, headers={**headers, "Origin": OTHER_SPA})

    assert own.status_code == other.status_code == 200
    assert own["Access-Control-Allow-Origin"] == SPA
    assert "Access-Control-Allow-Origin" not in other


def test_discovery_and_jwks_are_public(client, db):
    for url in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/v1/oauth/jwks"):
        assert client.get(url, headers={"Origin": STRANGER})["Access-Control-Allow-Origin"] == "*"


def test_pages_never_send_cors_headers(oauth, spa, make_user):
    staff = make_user("staff", is_staff=True, is_superuser=True)
    oauth.sign_in()
    consent = oauth.consent_page(AuthorizationRequest(client_id=spa.client_id))
    responses = [
        consent,
        oauth.client.get(reverse("accounts:home"), headers={"Origin": SPA}),
        oauth.client.get(reverse("accounts:connected-apps"), headers={"Origin": SPA}),
        oauth.client.get(reverse("accounts:login"), headers={"Origin": SPA}),
        preflight(oauth.client, "/v1/oauth/authorize", SPA, "GET"),
        preflight(oauth.client, reverse("accounts:login"), SPA),
    ]
    oauth.client.force_login(staff)
    responses.append(oauth.client.get("/admin/", headers={"Origin": SPA}))

    for response in responses:
        assert not any(name.startswith("Access-Control-") for name in response.headers), response.headers


def test_introspection_never_answers_browsers(oauth, spa, service_account):
    application, secret = service_account
    token = oauth.minted_tokens_for(spa)["access_token"]

    response = oauth.introspect(token, application.client_id, secret)
    preflight_response = preflight(oauth.client, "/v1/oauth/introspect", SPA)

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in preflight_response


def test_a_warm_preflight_makes_no_sql_queries(client, spa, django_assert_num_queries):
    preflight(client, TOKEN_URL, SPA)  # the process loads the registered origins once

    with django_assert_num_queries(0):
        allowed = preflight(client, TOKEN_URL, SPA)
        refused = preflight(client, REVOKE_URL, STRANGER)

    assert allowed["Access-Control-Allow-Origin"] == SPA
    assert "Access-Control-Allow-Origin" not in refused


def test_a_newly_registered_origin_is_allowed_at_once(client, spa, make_application):
    assert "Access-Control-Allow-Origin" not in preflight(client, TOKEN_URL, OTHER_SPA)

    make_application(name="Other Diary", allowed_origins=(OTHER_SPA,))

    assert preflight(client, TOKEN_URL, OTHER_SPA)["Access-Control-Allow-Origin"] == OTHER_SPA


def test_a_removed_origin_is_refused_at_once(client, spa, other_spa):
    assert preflight(client, TOKEN_URL, SPA)["Access-Control-Allow-Origin"] == SPA

    spa.allowed_origins = ""
    application_save(application=spa)
    other_spa.delete()

    assert "Access-Control-Allow-Origin" not in preflight(client, TOKEN_URL, SPA)
    assert "Access-Control-Allow-Origin" not in preflight(client, TOKEN_URL, OTHER_SPA)


def test_an_origin_removed_by_another_process_is_refused_within_the_refresh_interval(client, spa, settings):
    assert preflight(client, TOKEN_URL, SPA)["Access-Control-Allow-Origin"] == SPA
    Application.objects.filter(pk=spa.pk).update(allowed_origins="")  # no signal here, as in another process

    still_cached = preflight(client, TOKEN_URL, SPA)
    settings.OAUTH_SCOPE_REFRESH_SECONDS = 0
    refreshed = preflight(client, TOKEN_URL, SPA)

    assert still_cached["Access-Control-Allow-Origin"] == SPA
    assert "Access-Control-Allow-Origin" not in refreshed
