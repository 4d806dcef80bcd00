"""RFC 9068: the access token is a JWT that verifies offline with the published keys."""

from __future__ import annotations

import jwt
import pytest

CONTRACT_CLAIMS = {"iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti"}
PROFILE_CLAIMS = {"name", "given_name", "family_name", "preferred_username", "updated_at"}


def verify(client, token: str) -> dict:
    jwks = client.get("/v1/oauth/jwks").json()
    header = jwt.get_unverified_header(token)
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == header["kid"])
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience="wetrials-api",
        issuer="https://auth.wetrials.test",
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )


def test_access_token_header_is_exactly_typ_alg_kid(oauth, public_app, client):
    token = oauth.tokens_for(public_app)["access_token"]

    header = jwt.get_unverified_header(token)

    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in client.get("/v1/oauth/jwks").json()["keys"]}
    assert set(header) == {"typ", "alg", "kid"}


def test_access_token_claims_without_profile_scope(oauth, public_app, client, user):
    public_app.allowed_scopes.add(*public_app.allowed_scopes.model.objects.filter(name="write:studies"))
    claims = verify(client, oauth.tokens_for(public_app, scope="write:studies")["access_token"])

    assert set(claims) == CONTRACT_CLAIMS
    assert claims["sub"] == str(user.pk)
    assert claims["aud"] == "wetrials-api"
    assert claims["client_id"] == public_app.client_id
    assert claims["scope"] == "write:studies"
    assert claims["exp"] - claims["iat"] == 3600


@pytest.mark.parametrize("scope", ["read:profile", "profile"])
def test_profile_scopes_add_profile_claims(oauth, public_app, client, user, scope):
    claims = verify(client, oauth.tokens_for(public_app, scope=scope)["access_token"])

    assert set(claims) == CONTRACT_CLAIMS | PROFILE_CLAIMS
    assert claims["name"] == "Alice Liddell"
    assert claims["given_name"] == "Alice"
    assert claims["family_name"] == "Liddell"
    assert claims["preferred_username"] == "alice"
    assert claims["updated_at"] == int(user.updated_at.timestamp())


def test_email_scope_adds_email_claims(oauth, public_app, client):
    claims = verify(client, oauth.tokens_for(public_app, scope="email")["access_token"])

    assert set(claims) == CONTRACT_CLAIMS | {"email", "email_verified"}
    assert claims["email"] == "alice@example.org"
    assert claims["email_verified"] is False


def test_refresh_token_is_opaque_and_high_entropy(oauth, public_app):
    refresh_token = oauth.tokens_for(public_app)["refresh_token"]

    assert refresh_token.count(".") == 0
    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(refresh_token)
    assert len(refresh_token) >= 43


def test_refreshed_access_token_keeps_the_granted_scope(oauth, public_app, client):
    tokens = oauth.tokens_for(public_app, scope="read:profile email")

    refreshed = oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()

    assert verify(client, refreshed["access_token"])["scope"] == "read:profile email"


def test_jwks_publishes_only_public_rsa_keys(client, oauth, public_app):
    oauth.minted_tokens_for(public_app)

    keys = client.get("/v1/oauth/jwks").json()["keys"]

    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])
