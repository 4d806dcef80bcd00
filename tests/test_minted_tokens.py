"""Minted tokens (tests.oauth `minted_tokens_for`) are what a code exchange issues: the same
rows, the same token response, and the same behaviour wherever tokens are presented. Tests
that need tokens but are not about obtaining them use them; this file keeps them honest."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from accounts.sessions import AUTH_TIME_SESSION_KEY
from oauth_apps.models import AuditEvent, Consent, TokenFamily
from tests.oauth import ME_URL, USERINFO_URL, HttpsClient, OAuthTestClient

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

SCOPE = "openid read:profile email"
NONCE = "n-0S6_WzA2Mj"
# What a person's authorization leaves, row by row.
LEFT_BEHIND = {
    "consent": Consent,
    "token family": TokenFamily,
    "access token": AccessToken,
    "refresh token": RefreshToken,
    "authorization code": get_grant_model(),
    "ID token": get_id_token_model(),
    "audit event": AuditEvent,
}
# Columns that differ between any two authorizations (keys, secrets, moments): the test
# below checks how they relate instead. The minted audit events carry no IP address: there
# was no request to take it from.
DIFFERS_EACH_TIME = {"id", "family", "token", "token_checksum", "access_token", "token_family"}
MOMENTS = {"created", "updated", "created_at", "updated_at", "expires", "auth_time"}
NO_REQUEST = {"ip_address"}
PERSON = {"user": "pk", "actor_user": "pk", "username": "username", "actor_username": "username"}
SECRETS = ("access_token", "refresh_token", "id_token")


@pytest.fixture
def bob(make_user):
    return make_user("bob", first_name="Bob", last_name="Builder")


def described(row, person) -> dict:
    """A row's columns as comparable across two people's authorizations."""
    columns = {}
    for field in type(row)._meta.concrete_fields:
        value = field.value_from_object(row)
        if field.name in PERSON:
            value = "the person" if value == getattr(person, PERSON[field.name]) else value
        elif field.name in DIFFERS_EACH_TIME | MOMENTS | NO_REQUEST:
            continue
        columns[field.name] = value
    return columns


def rows_left_for(person) -> dict[str, list[dict]]:
    return {
        name: [described(row, person) for row in model.objects.filter(user=person).order_by("pk")]
        for name, model in LEFT_BEHIND.items()
    }


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_minting_leaves_exactly_the_rows_a_code_exchange_leaves(oauth, public_app, bob):
    oauth.tokens_for(public_app, scope=SCOPE, extra={"nonce": NONCE})
    bobs = OAuthTestClient(HttpsClient(), bob)
    minted = bobs.minted_tokens_for(public_app, scope=SCOPE, nonce=NONCE)

    assert rows_left_for(bob) == rows_left_for(oauth.user)
    for person, browser in [(oauth.user, oauth.client), (bob, bobs.client)]:
        family = TokenFamily.objects.get(user=person)
        access = AccessToken.objects.get(user=person)
        refresh = RefreshToken.objects.get(user=person)
        assert refresh.access_token == access
        assert refresh.token_family == family.family
        assert family.auth_time == datetime.fromtimestamp(browser.session[AUTH_TIME_SESSION_KEY], tz=UTC)
    bobs_access = AccessToken.objects.get(user=bob)
    assert bobs_access.expires == datetime.fromtimestamp(claims_of(minted["access_token"])["exp"], tz=UTC)


def test_minting_answers_what_a_code_exchange_answers(oauth, public_app, bob):
    walked = oauth.tokens_for(public_app, scope=SCOPE, extra={"nonce": NONCE})
    minted = OAuthTestClient(HttpsClient(), bob).minted_tokens_for(public_app, scope=SCOPE, nonce=NONCE)

    assert set(minted) == set(walked)
    assert {name: minted[name] for name in set(minted) - set(SECRETS)} == {
        name: walked[name] for name in set(walked) - set(SECRETS)
    }
    for name in ("access_token", "id_token"):
        assert jwt.get_unverified_header(minted[name]) == jwt.get_unverified_header(walked[name])
        minted_claims, walked_claims = claims_of(minted[name]), claims_of(walked[name])
        assert set(minted_claims) == set(walked_claims)
        for claim in ("iss", "aud", "client_id", "scope", "nonce", "email_verified"):
            assert minted_claims.get(claim) == walked_claims.get(claim), claim
        assert minted_claims["exp"] - minted_claims["iat"] == walked_claims["exp"] - walked_claims["iat"]
    assert claims_of(minted["id_token"])["sub"] == claims_of(minted["access_token"])["sub"] == str(bob.pk)
    assert "id_token" not in oauth.minted_tokens_for(public_app, scope="read:profile")


def test_minting_refuses_a_scope_the_client_may_not_have(oauth, public_app):
    with pytest.raises(AssertionError):
        oauth.minted_tokens_for(public_app, scope="write:studies")


# The same behaviour, whichever way the tokens were obtained.


@pytest.fixture(params=["walked", "minted"])
def obtain_tokens(request, oauth):
    return oauth.tokens_for if request.param == "walked" else oauth.minted_tokens_for


def test_the_access_token_verifies_with_the_published_keys(client, public_app, obtain_tokens):
    token = obtain_tokens(public_app)["access_token"]

    keys = {key["kid"]: key for key in client.get("/v1/oauth/jwks").json()["keys"]}
    key = jwt.PyJWK(keys[jwt.get_unverified_header(token)["kid"]])
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="wetrials-api", issuer="https://auth.wetrials.test")
    assert claims["scope"] == "read:profile"


def test_they_refresh(oauth, public_app, obtain_tokens):
    tokens = obtain_tokens(public_app, scope="openid read:profile")

    refreshed = oauth.refresh(public_app.client_id, tokens["refresh_token"])

    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.json()["scope"] == "openid read:profile"
    assert claims_of(refreshed.json()["id_token"])["auth_time"] == claims_of(tokens["id_token"])["auth_time"]


def test_they_introspect_as_active(oauth, public_app, service_account, obtain_tokens, user):
    tokens = obtain_tokens(public_app)
    server, secret = service_account

    for token, token_type in [(tokens["access_token"], "Bearer"), (tokens["refresh_token"], "refresh_token")]:
        body = oauth.introspect(token, server.client_id, secret).json()
        assert body["active"] is True
        assert (body["token_type"], body["client_id"], body["sub"]) == (token_type, public_app.client_id, str(user.pk))


def test_the_access_token_works_at_userinfo_and_me(oauth, public_app, obtain_tokens, user):
    token = obtain_tokens(public_app, scope="openid read:profile")["access_token"]

    assert oauth.bearer_get(USERINFO_URL, token).json()["sub"] == str(user.pk)
    assert oauth.bearer_get(ME_URL, token).json()["preferred_username"] == "alice"


def test_revoking_the_refresh_token_ends_both(oauth, public_app, obtain_tokens):
    tokens = obtain_tokens(public_app)

    assert oauth.revoke(tokens["refresh_token"], public_app.client_id).status_code == 200

    assert oauth.bearer_get(USERINFO_URL, tokens["access_token"]).status_code == 401
    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_replayed_refresh_token_revokes_the_family(oauth, public_app, obtain_tokens):
    first = obtain_tokens(public_app)
    second = oauth.refresh(public_app.client_id, first["refresh_token"]).json()

    replay = oauth.refresh(public_app.client_id, first["refresh_token"])

    assert replay.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_TOKEN_REPLAY).count() == 1
    assert not AccessToken.objects.exists()
    assert oauth.refresh(public_app.client_id, second["refresh_token"]).json()["error"] == "invalid_grant"
