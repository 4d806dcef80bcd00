"""OAUTH_REQUIRE_HTTPS: plain HTTP is refused everywhere but the health checks."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def plain_http() -> Client:
    return Client()


@pytest.mark.parametrize(
    "path",
    [
        "/v1/oauth/token",
        "/v1/oauth/authorize",
        "/v1/oauth/revoke",
        "/v1/oauth/introspect",
        "/v1/oauth/userinfo",
        "/v1/oauth/jwks",
        "/v1/me",
        "/.well-known/openid-configuration",
    ],
)
def test_plain_http_to_an_oauth_endpoint_is_a_json_400(plain_http, path, db):
    response = plain_http.post(path, "grant_type=client_credentials", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "HTTPS is required"}


def test_plain_http_sign_in_page_is_refused(plain_http, db):
    assert plain_http.get("/accounts/login/").status_code == 400


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_checks_answer_over_plain_http(plain_http, path, db):
    assert plain_http.get(path).status_code == 200


def test_forwarded_proto_is_ignored_unless_trusted(plain_http, db):
    response = plain_http.get("/v1/oauth/jwks", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 400


def test_forwarded_proto_is_honoured_when_trusted(plain_http, settings, db):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    response = plain_http.get("/v1/oauth/jwks", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200


def test_https_requirement_can_be_turned_off_for_development(plain_http, settings, db):
    settings.OAUTH_REQUIRE_HTTPS = False

    assert plain_http.get("/v1/oauth/jwks").status_code == 200


def test_a_valid_token_request_over_plain_http_issues_nothing(plain_http, service_account):
    from oauth2_provider.models import get_access_token_model

    from tests.oauth import basic_auth

    application, secret = service_account
    response = plain_http.post(
        "/v1/oauth/token",
        "grant_type=client_credentials&scope=read:participants",
        content_type="application/x-www-form-urlencoded",
        headers=basic_auth(application.client_id, secret),
    )

    assert response.status_code == 400
    assert "access_token" not in response.json()
    assert not get_access_token_model().objects.exists()
