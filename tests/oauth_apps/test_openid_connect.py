"""OpenID Connect on the same endpoints: ID tokens, prompt and max_age, discovery, key rotation."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from authlib.jose import JsonWebKey
from authlib.jose import jwt as authlib_jwt
from authlib.oidc.core import CodeIDToken
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.sessions import AUTH_TIME_SESSION_KEY
from oauth_apps.keys import key_ring
from oauth_apps.models import Scope, SigningKey
from tests.oauth import AUTHORIZE_URL, AuthorizationRequest, redirect_params

ISSUER = "https://auth.wetrials.test"


def mounted_url(url_name: str) -> str | None:
    try:
        return reverse(f"oauth2_provider:{url_name}")
    except NoReverseMatch:
        return None


def jwks(client) -> dict:
    return client.get("/v1/oauth/jwks").json()


def test_id_token_validates_with_authlib(oauth, public_app, client, user):
    nonce = "n-0S6_WzA2Mj"
    tokens = oauth.tokens_for(public_app, scope="openid profile", extra={"nonce": nonce})

    claims = authlib_jwt.decode(
        tokens["id_token"],
        JsonWebKey.import_key_set(jwks(client)),
        claims_cls=CodeIDToken,
        claims_options={"iss": {"value": ISSUER}, "aud": {"value": public_app.client_id}},
        claims_params={"nonce": nonce, "access_token": tokens["access_token"]},
    )
    claims.validate()  # iss, aud, exp, iat, nonce, at_hash, auth_time

    assert claims["sub"] == str(user.pk)
    assert claims["sub"] == jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
    assert claims["name"] == "Alice Liddell"
    assert "auth_time" in claims and "at_hash" in claims


def test_id_token_header_has_kid_from_the_jwks(oauth, public_app, client):
    tokens = oauth.tokens_for(public_app, scope="openid")

    header = jwt.get_unverified_header(tokens["id_token"])

    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in jwks(client)["keys"]}


def test_no_id_token_without_the_openid_scope(oauth, public_app):
    assert "id_token" not in oauth.tokens_for(public_app, scope="read:profile")


def test_prompt_login_signs_the_user_out_and_back_in(oauth, public_app, client):
    oauth.sign_in()
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra={"prompt": "login"})

    response = client.get(AUTHORIZE_URL, request.params())

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/accounts/login/"
    next_url = parse_qs(location.query)["next"][0]
    assert "prompt" not in parse_qs(urlsplit(next_url).query)
    assert "_auth_user_id" not in client.session


def test_max_age_exceeded_forces_a_fresh_sign_in(oauth, public_app, client, user):
    oauth.sign_in()
    signed_in_long_ago(client, seconds=30)
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra={"max_age": "1"})

    response = client.get(AUTHORIZE_URL, request.params())

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def signed_in_long_ago(client, *, seconds: int) -> None:
    session = client.session
    session[AUTH_TIME_SESSION_KEY] = int(time.time()) - seconds
    session.save()


def test_recent_sign_in_satisfies_max_age(oauth, public_app, client):
    oauth.sign_in()
    request = AuthorizationRequest(client_id=public_app.client_id, scope="openid", extra={"max_age": "3600"})

    assert client.get(AUTHORIZE_URL, request.params()).status_code == 200


def test_unknown_parameters_are_ignored(oauth, public_app):
    tokens = oauth.tokens_for(public_app, scope="openid", extra={"ui_locales": "fr", "unknown_thing": "x"})

    assert tokens["id_token"]


@pytest.mark.parametrize(
    ("scope", "expected_error"), [("openid not-a-scope", "invalid_scope"), ("openid", "access_denied")]
)
def test_error_redirects_carry_iss_and_state(oauth, public_app, scope, expected_error):
    oauth.sign_in()
    request = AuthorizationRequest(client_id=public_app.client_id, scope=scope)

    response = oauth.decide(request, allow=False) if expected_error == "access_denied" else oauth.consent_page(request)

    params = redirect_params(response)
    assert params["error"] == expected_error
    assert params["iss"] == ISSUER and params["state"] == request.state


def test_invalid_request_redirect_carries_iss_and_state(oauth, public_app):
    oauth.sign_in()
    request = AuthorizationRequest(client_id=public_app.client_id, method="plain")

    params = redirect_params(oauth.consent_page(request))

    assert params["error"] == "invalid_request"
    assert params["iss"] == ISSUER and params["state"] == request.state


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"])
def test_discovery_lists_exactly_what_the_server_supports(client, path, db):
    document = client.get(path).json()

    assert document["issuer"] == ISSUER
    for field, url_name in [
        ("authorization_endpoint", "authorize"),
        ("token_endpoint", "token"),
        ("jwks_uri", "jwks-info"),
        ("userinfo_endpoint", "user-info"),
        ("revocation_endpoint", "revoke-token"),
        ("introspection_endpoint", "introspect"),
    ]:
        url = mounted_url(url_name)
        assert document.get(field) == (ISSUER + url if url else None), field
    assert document["scopes_supported"] == sorted(Scope.objects.filter(is_active=True).values_list("name", flat=True))
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert set(document["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}


def test_discovery_says_request_objects_are_not_supported(client, db):
    document = client.get("/.well-known/openid-configuration").json()

    assert document["request_parameter_supported"] is False
    assert document["request_uri_parameter_supported"] is False


def test_both_discovery_documents_state_the_same_facts(client, db):
    assert (
        client.get("/.well-known/openid-configuration").json()
        == client.get("/.well-known/oauth-authorization-server").json()
    )


def test_discovery_follows_the_scope_table(client, db):
    Scope.objects.create(name="read:sites", description="See trial sites")

    assert "read:sites" in client.get("/.well-known/openid-configuration").json()["scopes_supported"]


def test_rotation_keeps_old_tokens_verifiable_until_they_expire(oauth, public_app, client, settings):
    token_a = oauth.minted_tokens_for(public_app)["access_token"]
    kid_a = jwt.get_unverified_header(token_a)["kid"]

    call_command("rotate_signing_key", stdout=StringIO())
    key_ring.invalidate()
    token_b = oauth.minted_tokens_for(public_app)["access_token"]

    kid_b = jwt.get_unverified_header(token_b)["kid"]
    assert kid_b != kid_a
    published = {key["kid"]: key for key in jwks(client)["keys"]}
    assert set(published) == {kid_a, kid_b}
    for token, kid in [(token_a, kid_a), (token_b, kid_b)]:
        jwt.decode(token, jwt.PyJWK(published[kid]), algorithms=["RS256"], audience="wetrials-api")

    SigningKey.objects.filter(kid=kid_a).update(
        retired_at=timezone.now() - timedelta(seconds=settings.OAUTH_ACCESS_TOKEN_LIFETIME + 1)
    )
    key_ring.invalidate()
    assert {key["kid"] for key in jwks(client)["keys"]} == {kid_b}
    call_command("rotate_signing_key", stdout=StringIO())
    assert not SigningKey.objects.filter(kid=kid_a).exists()


def rotate_signing_key(*args: str) -> str:
    out = StringIO()
    call_command("rotate_signing_key", *args, stdout=out)
    return out.getvalue().strip()


def test_a_rotation_dry_run_names_the_keys_it_would_retire_and_remove_and_changes_nothing(db, settings):
    key_ring.active()
    rotate_signing_key()
    retired = SigningKey.objects.get(is_active=False)
    past_use = timezone.now() - timedelta(seconds=settings.OAUTH_ACCESS_TOKEN_LIFETIME + 1)
    SigningKey.objects.filter(pk=retired.pk).update(retired_at=past_use)
    active = SigningKey.objects.get(is_active=True)
    before = list(SigningKey.objects.values_list("kid", "is_active", "retired_at"))

    output = rotate_signing_key("--dry-run")

    assert output == (
        f"Would retire signing key {active.kid}, make a new one active and remove 1 expired key(s): {retired.kid}; "
        "changed nothing (--dry-run)."
    )
    assert list(SigningKey.objects.values_list("kid", "is_active", "retired_at")) == before


def test_a_rotation_dry_run_before_any_key_exists_says_so(db):
    assert rotate_signing_key("--dry-run") == (
        "Would retire no key (none is active), make a new one active and remove 0 expired key(s); "
        "changed nothing (--dry-run)."
    )
    assert not SigningKey.objects.exists()


def test_jwks_and_discovery_allow_any_origin_and_are_cacheable(client, db):
    for path in ["/v1/oauth/jwks", "/.well-known/openid-configuration"]:
        response = client.get(path)
        assert response["Access-Control-Allow-Origin"] == "*"
        assert "max-age=" in response["Cache-Control"]


def test_jwks_entries_say_use_sig_and_not_key_ops_too(client, db):
    """RFC 7517 §4.3: `use` and `key_ops` should not be used together."""
    key_ring.active()
    call_command("rotate_signing_key", stdout=StringIO())
    # A key stored before key_ops was dropped at creation, as PyJWT's to_jwk writes it.
    stored_earlier = SigningKey.objects.filter(is_active=False).get()
    stored_earlier.public_jwk["key_ops"] = ["verify"]
    stored_earlier.save()
    key_ring.invalidate()

    published = jwks(client)["keys"]

    assert len(published) == 2
    assert all(key["use"] == "sig" and "key_ops" not in key for key in published)
    assert not SigningKey.objects.filter(public_jwk__has_key="key_ops").exclude(pk=stored_earlier.pk).exists()
