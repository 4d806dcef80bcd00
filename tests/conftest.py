from __future__ import annotations

from collections import Counter

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache
from django.urls import reverse

from oauth_apps.keys import key_ring
from oauth_apps.scopes import active_scopes_forget
from oauth_apps.services import application_register
from oauth_apps.views.cors import registered_origins_forget
from tests.oauth import AuthorizationRequest, HttpsClient, OAuthTestClient, basic_auth

REDIRECT_URI = "https://app.example.com/callback"
PASSWORD = "correct horse battery staple"
_generate_rsa_key = rsa.generate_private_key


@pytest.fixture(autouse=True)
def _isolated_state(settings):
    # A fast hasher for user passwords; the client-secret hasher stays the real one.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "oauth_apps.oauth2.hashers.ClientSecretHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    cache.clear()
    key_ring.invalidate()
    active_scopes_forget()
    registered_origins_forget()
    yield
    key_ring.invalidate()
    active_scopes_forget()
    registered_origins_forget()


@pytest.fixture(scope="session")
def _rsa_keys_of_the_run() -> dict[tuple[int, int], list[rsa.RSAPrivateKey]]:
    return {}


@pytest.fixture(autouse=True)
def _rsa_keys_made_once_per_run(monkeypatch, _rsa_keys_of_the_run):
    # Making an RSA key costs 30-50 ms and some 200 tests make one (their signing key is rolled
    # back with their database). Each test is handed the run's keys again in the same order:
    # real keys of the size asked for, and distinct within a test, as rotation needs.
    handed_out: Counter[tuple[int, int]] = Counter()

    def generate(public_exponent: int, key_size: int, backend: object = None) -> rsa.RSAPrivateKey:
        made = _rsa_keys_of_the_run.setdefault((public_exponent, key_size), [])
        index = handed_out[public_exponent, key_size]
        handed_out[public_exponent, key_size] += 1
        if index == len(made):
            made.append(_generate_rsa_key(public_exponent=public_exponent, key_size=key_size))
        return made[index]

    monkeypatch.setattr(rsa, "generate_private_key", generate)


@pytest.fixture
def client() -> HttpsClient:
    return HttpsClient()


@pytest.fixture
def make_user(django_user_model):
    def make(username: str = "alice", **fields):
        fields.setdefault("first_name", "Alice")
        fields.setdefault("last_name", "Liddell")
        fields.setdefault("email", f"{username}@example.org")
        return django_user_model.objects.create_user(username=username, password=PASSWORD, **fields)

    return make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def make_application(db):
    def make(
        name: str = "Study Tracker",
        client_type: str = "public",
        redirect_uris: tuple[str, ...] = (REDIRECT_URI,),
        scopes: tuple[str, ...] = ("read:profile", "openid", "profile", "email"),
        **options,
    ):
        return application_register(
            name=name, client_type=client_type, redirect_uris=redirect_uris, scopes=scopes, **options
        )

    return make


@pytest.fixture
def public_app(make_application):
    application, _ = make_application()
    return application


@pytest.fixture
def confidential_app(make_application):
    """A confidential client and its plain-text secret."""
    return make_application(name="Research Portal", client_type="confidential")


@pytest.fixture
def oauth(client, user) -> OAuthTestClient:
    return OAuthTestClient(client, user)


@pytest.fixture
def service_account(make_application):
    """A client-credentials client and its plain-text secret."""
    return make_application(
        name="Nightly Export",
        client_type="confidential",
        grant_type="client-credentials",
        redirect_uris=(),
        scopes=("read:participants",),
    )


@pytest.fixture
def service_token(oauth, service_account) -> str:
    application, secret = service_account
    response = oauth.token(
        {"grant_type": "client_credentials", "scope": "read:participants"}, basic_auth(application.client_id, secret)
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def pages(oauth, public_app):
    """Every page an end user sees, signed in where it needs it."""
    sign_in = oauth.client.get(reverse("accounts:login"))
    oauth.minted_tokens_for(public_app, scope="openid")
    return {
        "sign-in": sign_in,
        "consent": oauth.consent_page(AuthorizationRequest(client_id=public_app.client_id, scope="openid email")),
        "account": oauth.client.get(reverse("accounts:home")),
        "connected apps": oauth.client.get(reverse("accounts:connected-apps")),
        "revoke confirmation": oauth.client.get(f"/accounts/apps/{public_app.client_id}/revoke/"),
        "authorize error": oauth.client.get("/v1/oauth/authorize", {"client_id": "unknown"}),
    }
