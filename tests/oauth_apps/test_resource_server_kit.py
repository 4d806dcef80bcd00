"""The resource-server kit (oauth_apps/contrib/rest_framework), exercised through GET /v1/me."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from oauth_apps.keys import key_ring
from tests.oauth import ME_URL


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_like(token: str, **changes: object) -> dict:
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def sign_with_our_key(claims: dict, **header: object) -> str:
    key = key_ring.active()
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "at+jwt", **header})


@pytest.fixture
def profile_token(oauth, public_app) -> str:
    return oauth.minted_tokens_for(public_app, scope="openid read:profile")["access_token"]


def test_a_genuine_token_reads_the_profile(oauth, profile_token, user):
    response = oauth.bearer_get(ME_URL, profile_token)

    assert response.status_code == 200, response.content
    assert response.json()["sub"] == str(user.pk)
    assert response.json()["preferred_username"] == "alice"


def forged_alg_none(token: str) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": jwt.get_unverified_header(token)["kid"]}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_like(token)).encode())}."


def forged_hs256_with_the_public_key(token: str) -> str:
    kid = jwt.get_unverified_header(token)["kid"]
    public_pem = (
        key_ring.verifying_key(kid)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid}).encode())}."
        f"{b64(json.dumps(claims_like(token)).encode())}"
    )
    signature = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def forged_typ_jwt(token: str) -> str:
    return sign_with_our_key(claims_like(token), typ="JWT")


def forged_by_another_key(token: str) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = {"kid": jwt.get_unverified_header(token)["kid"], "typ": "at+jwt"}
    return jwt.encode(claims_like(token), stranger, algorithm="RS256", headers=header)


FORGERIES = {
    "alg none": forged_alg_none,
    "HS256 signed with the public key": forged_hs256_with_the_public_key,
    "typ JWT (an ID token's type)": forged_typ_jwt,
    "signed by another key under our kid": forged_by_another_key,
    "unknown kid": lambda token: sign_with_our_key(claims_like(token), kid="no-such-key"),
    "wrong issuer": lambda token: sign_with_our_key(claims_like(token, iss="https://evil.example")),
    "wrong audience": lambda token: sign_with_our_key(claims_like(token, aud="another-api")),
    "expired": lambda token: sign_with_our_key(claims_like(token, exp=int(time.time()) - 10)),
    "no exp": lambda token: sign_with_our_key(claims_like(token, exp=None)),
    "no jti": lambda token: sign_with_our_key(claims_like(token, jti=None)),
    "tampered payload": lambda token: ".".join(
        [token.split(".")[0], b64(json.dumps(claims_like(token, sub="999")).encode()), token.split(".")[2]]
    ),
    "not a JWT": lambda token: "garbage",
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_tokens_are_refused_with_401(oauth, profile_token, forge):
    response = oauth.bearer_get(ME_URL, forge(profile_token))

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_token"
    assert response["WWW-Authenticate"] == 'Bearer realm="WeTrials", error="invalid_token"'


def test_missing_scope_is_403_insufficient_scope(oauth, public_app):
    token = oauth.minted_tokens_for(public_app, scope="openid email")["access_token"]

    response = oauth.bearer_get(ME_URL, token)

    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response["WWW-Authenticate"] == 'Bearer realm="WeTrials", error="insufficient_scope", scope="read:profile"'


def test_revoked_token_is_refused_by_the_checking_mode(oauth, public_app, profile_token):
    oauth.revoke(profile_token, public_app.client_id)

    assert oauth.bearer_get(ME_URL, profile_token).status_code == 401


def test_no_token_is_401_with_a_bare_challenge(client, db):
    response = client.get(ME_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="WeTrials"'


def test_a_token_for_an_inactive_user_is_refused(oauth, profile_token, user):
    user.is_active = False
    user.save()

    assert oauth.bearer_get(ME_URL, profile_token).status_code == 401


@pytest.fixture
def kit_reading_the_jwks_url(settings, monkeypatch):
    """The kit as another service configures it: keys from the JWKS URL, not the key ring."""
    from oauth_apps.contrib.rest_framework import authentication as resource_server

    served = []

    def fetch_jwks(client):
        served.append(client.uri)
        return {"keys": key_ring.public_jwks()}

    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", fetch_jwks)
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "JWK_URL": "https://auth.wetrials.test/v1/oauth/jwks"}
    resource_server.access_token_backend.cache_clear()
    yield served
    resource_server.access_token_backend.cache_clear()


def test_the_kit_verifies_with_keys_from_the_jwks_url(oauth, profile_token, kit_reading_the_jwks_url):
    genuine = oauth.bearer_get(ME_URL, profile_token)
    forged = oauth.bearer_get(ME_URL, forged_hs256_with_the_public_key(profile_token))

    assert genuine.status_code == 200
    assert forged.status_code == 401
    assert kit_reading_the_jwks_url == ["https://auth.wetrials.test/v1/oauth/jwks"]


STANDALONE_SERVICE = """
import django
from django.conf import settings

KIT = "oauth_apps.contrib.rest_framework"
settings.configure(
    SECRET_KEY="another service's own",
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [f"{KIT}.authentication.AccessTokenAuthentication"],
        "EXCEPTION_HANDLER": f"{KIT}.exceptions.bearer_exception_handler",
    },
    SIMPLE_JWT={"ALGORITHM": "RS256", "JWK_URL": "https://auth.wetrials.example/v1/oauth/jwks"},
)
django.setup()
import sys

from rest_framework.views import APIView

from oauth_apps.contrib.rest_framework import authentication, exceptions, permissions

class StudyList(APIView):
    permission_classes = [permissions.HasScope("read:studies")]

assert StudyList().get_authenticators()[0].__class__ is authentication.AccessTokenAuthentication
loaded = sorted(name for name in sys.modules if name.startswith(("oauth_apps", "oauth2_provider", "config")))
print(" ".join(loaded))
"""


def test_another_service_uses_the_kit_without_the_server():
    """The kit is a library: a service with none of this server's apps or settings imports it."""
    result = subprocess.run(
        [sys.executable, "-c", STANDALONE_SERVICE],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": os.environ["PATH"]},
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "oauth_apps",
        "oauth_apps.contrib",
        "oauth_apps.contrib.rest_framework",
        "oauth_apps.contrib.rest_framework.authentication",
        "oauth_apps.contrib.rest_framework.exceptions",
        "oauth_apps.contrib.rest_framework.permissions",
    ]
