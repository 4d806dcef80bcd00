"""`manage.py purge_tokens`: what can never be used again goes, in batches; nothing live does,
and replay detection keeps the rotated refresh tokens it needs."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, get_commands
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from tests.oauth import AuthorizationRequest, basic_auth

LONG_AGO = timezone.now() - timedelta(days=31)


def purge_tokens(**options: object) -> str:
    out = StringIO()
    call_command("purge_tokens", stdout=out, **options)
    return out.getvalue()


def checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_credentials(oauth, service_account, count: int) -> None:
    application, secret = service_account
    for _ in range(count):
        body = {"grant_type": "client_credentials", "scope": "read:participants"}
        assert oauth.token(body, basic_auth(application.client_id, secret)).status_code == 200


def test_purge_tokens_is_this_projects_batched_command():
    assert get_commands()["purge_tokens"] == "oauth_apps"


def test_it_deletes_exactly_what_can_never_be_used_again(oauth, public_app, service_account):
    live = oauth.minted_tokens_for(public_app, scope="openid read:profile")
    first = oauth.minted_tokens_for(public_app, scope="openid")
    rotated = oauth.refresh(public_app.client_id, first["refresh_token"]).json()
    idle = oauth.minted_tokens_for(public_app, scope="openid")
    idle_refresh = RefreshToken.objects.get(token_checksum=checksum(idle["refresh_token"]))
    AccessToken.objects.filter(pk=idle_refresh.access_token_id).update(expires=LONG_AGO)
    long_rotated = oauth.minted_tokens_for(public_app, scope="openid")
    oauth.refresh(public_app.client_id, long_rotated["refresh_token"])
    RefreshToken.objects.filter(token_checksum=checksum(long_rotated["refresh_token"])).update(revoked=LONG_AGO)
    client_credentials(oauth, service_account, 2)
    expired_service_token = AccessToken.objects.filter(application=service_account[0]).first()
    AccessToken.objects.filter(pk=expired_service_token.pk).update(expires=LONG_AGO)
    oauth.authorize(AuthorizationRequest(client_id=public_app.client_id))
    Grant.objects.update(expires=LONG_AGO)

    output = purge_tokens(batch_size=1, pause=0)

    assert "revoked refresh tokens: 1 deleted in 1 batches" in output
    assert "expired refresh tokens: 1 deleted in 1 batches" in output
    assert "expired access tokens: 2 deleted in 2 batches" in output  # the idle sign-in's and the service one
    assert "expired authorization codes: 1 deleted" in output
    gone = [checksum(idle["refresh_token"]), checksum(long_rotated["refresh_token"])]
    assert not RefreshToken.objects.filter(token_checksum__in=gone).exists()
    assert not AccessToken.objects.filter(pk__in=[idle_refresh.access_token_id, expired_service_token.pk]).exists()
    assert not Grant.objects.exists()
    assert AccessToken.objects.filter(application=service_account[0]).count() == 1
    # Live sign-ins still refresh; a token rotated away within the lifetime is still caught as a replay.
    assert oauth.refresh(public_app.client_id, live["refresh_token"]).status_code == 200
    assert oauth.refresh(public_app.client_id, rotated["refresh_token"]).status_code == 200
    assert oauth.refresh(public_app.client_id, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert oauth.refresh(public_app.client_id, idle["refresh_token"]).json()["error"] == "invalid_grant"


def test_batches_resume_where_the_last_one_stopped(oauth, service_account):
    client_credentials(oauth, service_account, 5)
    AccessToken.objects.update(expires=LONG_AGO)

    output = purge_tokens(batch_size=2, pause=0)

    assert "expired access tokens: 5 deleted in 3 batches" in output
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("options", [{"batch_size": 0}, {"pause": -1}])
def test_nonsense_options_are_refused(db, options):
    with pytest.raises(CommandError):
        purge_tokens(**options)
