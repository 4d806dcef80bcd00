"""What the database holds: checksums of tokens, never the tokens themselves."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model, get_refresh_token_model, set_token_value

from oauth_apps.keys import key_ring
from oauth_apps.models import SigningKey
from oauth_apps.oauth2.tokens import token_checksum
from tests.oauth import AuthorizationRequest, HttpsClient, OAuthTestClient


def test_tokens_are_not_stored_in_usable_form(oauth, public_app):
    tokens = oauth.tokens_for(public_app)

    access = get_access_token_model().objects.get()
    refresh = get_refresh_token_model().objects.get(revoked__isnull=True)
    assert access.token == "" and refresh.token == ""
    assert tokens["access_token"] not in str(access.__dict__)
    assert tokens["refresh_token"] not in str(refresh.__dict__)


def test_rows_are_found_by_the_checksum_django_oauth_toolkit_stores(oauth, public_app):
    tokens = oauth.tokens_for(public_app)

    access = get_access_token_model().objects.get()
    refresh = get_refresh_token_model().objects.get(revoked__isnull=True)
    assert access.token_checksum == token_checksum(tokens["access_token"])
    assert refresh.token_checksum == token_checksum(tokens["refresh_token"])
    assert token_checksum(tokens["access_token"].encode()) == access.token_checksum  # as a bearer header gives it


def test_the_checksum_of_any_text_is_the_one_django_oauth_toolkit_computes():
    unsaved = get_access_token_model()()
    set_token_value(unsaved, "jeton-\u00e9\u2603")

    stored = get_access_token_model()._meta.get_field("token_checksum").pre_save(unsaved, add=True)

    assert stored == token_checksum("jeton-\u00e9\u2603")


def test_signing_key_is_stored_encrypted(oauth, public_app, settings):
    oauth.minted_tokens_for(public_app)

    key = SigningKey.objects.get()
    assert "PRIVATE KEY" not in key.private_key_encrypted
    assert settings.SECRET_KEY not in key.private_key_encrypted


def statements(queries: CaptureQueriesContext) -> list[str]:
    # The test runs inside a transaction, so the view's own transaction shows up as savepoints.
    return [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def test_code_exchange_and_refresh_take_few_sql_statements(oauth, public_app, user):
    """Stock DOT takes 15 and 18; the budget here is 7 each."""
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)
    app_client = OAuthTestClient(HttpsClient(), user)  # the client app has no session cookie
    key_ring.active()  # signing keys are loaded once per process, not per request

    with CaptureQueriesContext(connection) as exchange:
        tokens = app_client.exchange(request, code).json()
    with CaptureQueriesContext(connection) as refresh:
        assert app_client.refresh(public_app.client_id, tokens["refresh_token"]).status_code == 200

    assert len(statements(exchange)) <= 7, statements(exchange)
    assert len(statements(refresh)) <= 7, statements(refresh)
