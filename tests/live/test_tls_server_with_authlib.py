"""The whole flow against gunicorn over TLS (DJANGO_DEBUG=0), driven by Authlib as a real client."""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from tests.live.flows import authlib_session, form_fields, tls_session

pytestmark = pytest.mark.live

REDIRECT_URI = "https://client.example.test/callback"


def sign_in_and_consent(server, authorization_url: str) -> str:
    """Act as the user's browser; return the redirect back to the client."""
    browser = tls_session(server)
    browser.headers["Origin"] = server.url
    response = browser.get(authorization_url, allow_redirects=False)
    assert response.status_code == 302
    login_url = urljoin(server.url, response.headers["Location"])
    login_page = browser.get(login_url)
    fields = form_fields(login_page.text) | {"username": server.username, "password": server.password}
    response = browser.post(login_url, data=fields, allow_redirects=False)
    assert response.status_code == 302, response.text
    consent = browser.get(urljoin(server.url, response.headers["Location"]), allow_redirects=False)
    if consent.status_code == 302:
        return consent.headers["Location"]  # the user allowed this client these scopes before
    assert consent.status_code == 200
    assert "Allow" in consent.text
    decision = form_fields(consent.text) | {"allow": "Allow"}
    response = browser.post(consent.url, data=decision, allow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def oauth_session(server, client: dict[str, str], scope: str) -> OAuth2Session:
    return authlib_session(server, client, scope=scope, redirect_uri=REDIRECT_URI)


def run_code_flow(server, client: dict[str, str], scope: str = "openid read:profile") -> tuple[OAuth2Session, dict]:
    session = oauth_session(server, client, scope)
    verifier = generate_token(64)
    authorization_url, state = session.create_authorization_url(
        f"{server.url}/v1/oauth/authorize", code_verifier=verifier
    )
    callback = sign_in_and_consent(server, authorization_url)
    params = parse_qs(urlsplit(callback).query)
    assert params["iss"] == [server.url]
    assert params["state"] == [state]
    token = session.fetch_token(f"{server.url}/v1/oauth/token", authorization_response=callback, code_verifier=verifier)
    return session, token


def verify_access_token(server, access_token: str) -> dict:
    jwks = tls_session(server).get(f"{server.url}/v1/oauth/jwks", timeout=5).json()
    kid = jwt.get_unverified_header(access_token)["kid"]
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(access_token, key, algorithms=["RS256"], audience="wetrials-api", issuer=server.url)


def register(server, name: str, client_type: str) -> dict[str, str]:
    scopes = ["--scope", "openid", "--scope", "read:profile"]
    return server.register_client("--name", name, "--type", client_type, "--redirect-uri", REDIRECT_URI, *scopes)


@pytest.fixture(scope="module")
def public_client(live_server_tls):
    return register(live_server_tls, "Live Public", "public")


@pytest.fixture(scope="module")
def confidential_client(live_server_tls):
    return register(live_server_tls, "Live Confidential", "confidential")


@pytest.mark.parametrize("client_fixture", ["public_client", "confidential_client"])
def test_code_flow_refresh_and_offline_verification(live_server_tls, client_fixture, request):
    client = request.getfixturevalue(client_fixture)

    session, token = run_code_flow(live_server_tls, client)

    claims = verify_access_token(live_server_tls, token["access_token"])
    assert claims["client_id"] == client["client_id"]
    assert claims["scope"] == "openid read:profile"
    assert claims["preferred_username"] == live_server_tls.username
    id_claims = jwt.decode(token["id_token"], options={"verify_signature": False})
    assert id_claims["aud"] == client["client_id"] and id_claims["sub"] == claims["sub"]

    refreshed = session.refresh_token(f"{live_server_tls.url}/v1/oauth/token", refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert verify_access_token(live_server_tls, refreshed["access_token"])["sub"] == claims["sub"]

    with pytest.raises(OAuthError) as replay:
        session.refresh_token(f"{live_server_tls.url}/v1/oauth/token", refresh_token=token["refresh_token"])
    assert replay.value.error == "invalid_grant"
    with pytest.raises(OAuthError) as revoked:
        session.refresh_token(f"{live_server_tls.url}/v1/oauth/token", refresh_token=refreshed["refresh_token"])
    assert revoked.value.error == "invalid_grant"


def test_wrong_secret_gets_401_with_a_basic_challenge(live_server_tls, confidential_client):
    response = tls_session(live_server_tls).post(
        f"{live_server_tls.url}/v1/oauth/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
        auth=(confidential_client["client_id"], "wrong"),
        timeout=5,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert response.headers["Cache-Control"] == "no-store"


def test_unregistered_redirect_uri_shows_an_error_page(live_server_tls, public_client):
    session = oauth_session(live_server_tls, public_client, "read:profile")
    session.redirect_uri = "https://attacker.example.test/callback"
    url, _ = session.create_authorization_url(
        f"{live_server_tls.url}/v1/oauth/authorize", code_verifier=generate_token(64)
    )
    browser = tls_session(live_server_tls)
    browser.headers["Origin"] = live_server_tls.url
    login_url = f"{live_server_tls.url}/accounts/login/"
    fields = form_fields(browser.get(login_url).text)
    browser.post(login_url, data=fields | {"username": live_server_tls.username, "password": live_server_tls.password})

    response = browser.get(url, allow_redirects=False, timeout=5)

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "This sign-in link doesn" in response.text


def test_malformed_requests_never_produce_a_server_error(live_server_tls):
    for body, content_type in [
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b"grant_type=authorization_code&code=%00", "application/x-www-form-urlencoded"),
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"a=" + b"x" * 200_000, "application/x-www-form-urlencoded"),
    ]:
        response = tls_session(live_server_tls).post(
            f"{live_server_tls.url}/v1/oauth/token", data=body, headers={"Content-Type": content_type}, timeout=5
        )
        assert response.status_code == 400, (body[:40], response.status_code, response.text[:200])
        assert response.json()["error"] == "invalid_request"


def test_userinfo_introspection_and_revocation(live_server_tls, public_client, confidential_client):
    url = live_server_tls.url
    session, token = run_code_flow(live_server_tls, public_client)
    resource_server = oauth_session(live_server_tls, confidential_client, "")

    userinfo = session.get(f"{url}/v1/oauth/userinfo", timeout=5)
    me = session.get(f"{url}/v1/me", timeout=5)
    assert userinfo.status_code == 200 and me.status_code == 200
    assert (
        userinfo.json()["sub"] == me.json()["sub"] == verify_access_token(live_server_tls, token["access_token"])["sub"]
    )
    assert userinfo.json()["preferred_username"] == live_server_tls.username

    live = resource_server.introspect_token(f"{url}/v1/oauth/introspect", token=token["access_token"])
    assert live.status_code == 200 and live.headers["Cache-Control"] == "no-store"
    assert live.json()["active"] is True and live.json()["client_id"] == public_client["client_id"]

    revoked = session.revoke_token(f"{url}/v1/oauth/revoke", token=token["refresh_token"])
    assert revoked.status_code == 200

    for kind in ("access_token", "refresh_token"):
        after = resource_server.introspect_token(f"{url}/v1/oauth/introspect", token=token[kind])
        assert after.json() == {"active": False}
    refused = session.get(f"{url}/v1/oauth/userinfo", timeout=5)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    with pytest.raises(OAuthError) as refresh:
        session.refresh_token(f"{url}/v1/oauth/token", refresh_token=token["refresh_token"])
    assert refresh.value.error == "invalid_grant"


def test_introspection_without_credentials_is_invalid_client(live_server_tls):
    response = tls_session(live_server_tls).post(
        f"{live_server_tls.url}/v1/oauth/introspect", data={"token": "x"}, timeout=5
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
