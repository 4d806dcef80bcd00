"""`manage.py purge_tokens`: what can never be used again goes, in batches; nothing live does,
and replay detection keeps the rotated refresh tokens it needs."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, get_commands
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from oauth_apps.models import TokenFamily
from oauth_apps.oauth2.tokens import token_checksum
from tests.oauth import AuthorizationRequest, basic_auth

LONG_AGO = timezone.now() - timedelta(days=31)


def purge_tokens(**options: object) -> str:
    out = StringIO()
    call_command("purge_tokens", stdout=out, **options)
    return out.getvalue()


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
    idle_refresh = RefreshToken.objects.get(token_checksum=token_checksum(idle["refresh_token"]))
    AccessToken.objects.filter(pk=idle_refresh.access_token_id).update(expires=LONG_AGO)
    long_rotated = oauth.minted_tokens_for(public_app, scope="openid")
    oauth.refresh(public_app.client_id, long_rotated["refresh_token"])
    RefreshToken.objects.filter(token_checksum=token_checksum(long_rotated["refresh_token"])).update(revoked=LONG_AGO)
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
    gone = [token_checksum(idle["refresh_token"]), token_checksum(long_rotated["refresh_token"])]
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


def deleted_by_kind(output: str) -> dict[str, int]:
    return {kind: int(count) for kind, count in re.findall(r"^([a-z ]+): (\d+) ", output, re.MULTILINE)}


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (AccessToken, RefreshToken, Grant, TokenFamily)}


def test_a_dry_run_counts_what_the_run_then_deletes_and_deletes_nothing(oauth, public_app, service_account):
    oauth.tokens_for(public_app, scope="openid")  # live
    rotated = oauth.tokens_for(public_app, scope="openid")
    oauth.refresh(public_app.client_id, rotated["refresh_token"])
    # Rotated away long ago, with the access token it held: that one goes only once the
    # refresh token holding it has gone, in the same run.
    old_link = RefreshToken.objects.get(token_checksum=token_checksum(rotated["refresh_token"]))
    RefreshToken.objects.filter(pk=old_link.pk).update(revoked=LONG_AGO)
    AccessToken.objects.filter(pk=old_link.access_token_id).update(expires=LONG_AGO)
    idle = oauth.tokens_for(public_app, scope="openid")
    idle_refresh = RefreshToken.objects.get(token_checksum=token_checksum(idle["refresh_token"]))
    AccessToken.objects.filter(pk=idle_refresh.access_token_id).update(expires=LONG_AGO)
    TokenFamily.objects.filter(family=idle_refresh.token_family).update(created_at=LONG_AGO)
    client_credentials(oauth, service_account, 1)
    AccessToken.objects.filter(application=service_account[0]).update(expires=LONG_AGO)
    oauth.authorize(AuthorizationRequest(client_id=public_app.client_id))
    Grant.objects.update(expires=LONG_AGO)
    before = row_counts()

    dry_run = purge_tokens(dry_run=True)

    assert row_counts() == before
    assert dry_run.splitlines()[-1] == "Would delete 7 rows in all; deleted nothing (--dry-run)."
    run = purge_tokens(pause=0)
    expected = {
        "revoked refresh tokens": 1,
        "orphaned refresh tokens": 0,
        "expired refresh tokens": 1,
        "expired access tokens": 3,  # the old link's, the idle sign-in's and the service account's
        "expired authorization codes": 1,
        "ended token families": 1,
    }
    assert deleted_by_kind(dry_run) == expected
    assert deleted_by_kind(run) == expected
    assert run.splitlines()[-1] == "Deleted 7 rows in all."
    assert sum(before.values()) - sum(row_counts().values()) == 7


def test_a_run_with_nothing_to_delete_says_so(db):
    assert purge_tokens().splitlines()[-1] == "Deleted 0 rows in all."
    assert purge_tokens(dry_run=True).splitlines()[-1] == "Would delete 0 rows in all; deleted nothing (--dry-run)."
