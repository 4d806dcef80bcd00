"""The hardened authorization request against gunicorn over TLS (DJANGO_DEBUG=0), with
Authlib as the client and a browser session driven by hand: form POST requests, max_age=0,
tampered consent forms, PKCE downgrade, and credentials PostgreSQL would refuse."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.live.conftest import LiveServer, gunicorn_instances
from tests.live.flows import authlib_session, form_fields, signed_in_browser, tls_session

pytestmark = pytest.mark.live

REDIRECT_URI = "https://client.example.test/callback"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    # Its own instance: these flows sign in often, and the sign-in limit is per address.
    with gunicorn_instances(tmp_path_factory.mktemp("hardening"), count=1, suffix="hardening", extra_env={}) as servers:
        yield servers[0]


@pytest.fixture(scope="module")
def public_client(server) -> dict[str, str]:
    return server.register_client(
        "--name", "Hardening SPA", "--type", "public", "--redirect-uri", REDIRECT_URI, "--scope", "openid"
    )


def oauth_session(server: LiveServer, client: dict[str, str]) -> OAuth2Session:
    return authlib_session(server, client, scope="openid", redirect_uri=REDIRECT_URI)


def allow(browser, consent) -> str:
    if consent.status_code == 302:
        return consent.headers["Location"]  # the person allowed this client before
    assert consent.status_code == 200, consent.text
    response = browser.post(consent.url, data=form_fields(consent.text) | {"allow": "Allow"}, allow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def test_a_form_post_authorization_request_gets_the_consent_page_and_a_code(server, public_client):
    client = oauth_session(server, public_client)
    verifier = generate_token(64)
    url, state = client.create_authorization_url(f"{server.url}/v1/oauth/authorize", code_verifier=verifier)
    browser = signed_in_browser(server)
    browser.headers["Origin"] = "https://client.example.test"  # the client's page posts the form

    consent = browser.post(
        f"{server.url}/v1/oauth/authorize", data=dict(parse_qs(urlsplit(url).query)), allow_redirects=False
    )
    browser.headers["Origin"] = server.url  # the consent form is ours
    callback = allow(browser, consent)

    assert parse_qs(urlsplit(callback).query)["state"] == [state]
    token = client.fetch_token(f"{server.url}/v1/oauth/token", authorization_response=callback, code_verifier=verifier)
    assert token["id_token"]


def test_max_age_zero_asks_for_one_fresh_sign_in_and_the_id_token_says_when(server, public_client):
    client = oauth_session(server, public_client)
    verifier = generate_token(64)
    url, _state = client.create_authorization_url(
        f"{server.url}/v1/oauth/authorize", code_verifier=verifier, max_age="0"
    )
    browser = signed_in_browser(server)
    time.sleep(1.1)  # the earlier sign-in is now older than max_age
    started = int(time.time())

    asked = browser.get(url, allow_redirects=False)
    assert asked.status_code == 302 and "/accounts/login/" in asked.headers["Location"]
    login_url = urljoin(server.url, asked.headers["Location"])
    fields = form_fields(browser.get(login_url).text) | {"username": server.username, "password": server.password}
    resumed = browser.post(login_url, data=fields, allow_redirects=False)
    assert resumed.status_code == 302, resumed.text
    callback = allow(browser, browser.get(urljoin(server.url, resumed.headers["Location"]), allow_redirects=False))

    token = client.fetch_token(f"{server.url}/v1/oauth/token", authorization_response=callback, code_verifier=verifier)
    assert jwt.decode(token["id_token"], options={"verify_signature": False})["auth_time"] >= started


def test_a_tampered_redirect_uri_on_deny_gets_the_error_page(server, public_client):
    client = oauth_session(server, public_client)
    url, _state = client.create_authorization_url(f"{server.url}/v1/oauth/authorize", code_verifier=generate_token(64))
    browser = signed_in_browser(server)
    consent = browser.get(url, allow_redirects=False)

    denied = browser.post(
        consent.url, data=form_fields(consent.text) | {"redirect_uri": "https://evil.example/"}, allow_redirects=False
    )

    assert denied.status_code == 400
    assert "Location" not in denied.headers


def test_a_pkce_downgrade_is_invalid_grant(server):
    confidential = server.register_client(
        "--name", "Hardening Portal", "--type", "confidential", "--redirect-uri", REDIRECT_URI,
        "--scope", "openid", "--pkce", "optional",
    )  # fmt: skip
    client = oauth_session(server, confidential)
    client.code_challenge_method = None  # the authorization request carries no challenge
    url, _state = client.create_authorization_url(f"{server.url}/v1/oauth/authorize")
    browser = signed_in_browser(server)
    callback = allow(browser, browser.get(url, allow_redirects=False))
    code = parse_qs(urlsplit(callback).query)["code"][0]

    response = tls_session(server).post(
        f"{server.url}/v1/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": "v" * 64,
        },
        auth=(confidential["client_id"], confidential["client_secret"]),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("credentials", [b"a%00b:x", b"a\x00b:x", b"\xff\xfe:x"], ids=["%00", "NUL", "not UTF-8"])
def test_basic_credentials_the_database_would_refuse_are_invalid_client(server, credentials):
    response = tls_session(server).post(
        f"{server.url}/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()},
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
