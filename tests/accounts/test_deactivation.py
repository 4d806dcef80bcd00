"""Deactivating a person ends every authorization they gave, and their tokens stop working
everywhere, even when the deactivation bypassed save()."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from oauth_apps.models import AuditEvent, Consent
from tests.oauth import ME_URL, USERINFO_URL, AuthorizationRequest

User = get_user_model()


def deactivate_with_save(user) -> None:
    user.is_active = False
    user.save()


def deactivate_with_update(user) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def test_deactivating_a_user_revokes_their_families_codes_and_consents_at_once(oauth, public_app, user):
    oauth.minted_tokens_for(public_app, scope="openid read:profile")
    oauth.authorize(AuthorizationRequest(client_id=public_app.client_id))  # a code not yet redeemed

    deactivate_with_save(user)

    assert not get_access_token_model().objects.filter(user=user).exists()
    assert not get_refresh_token_model().objects.filter(user=user, revoked__isnull=True).exists()
    assert not get_grant_model().objects.filter(user=user).exists()
    assert not Consent.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKENS_REVOKED, user=user).exists()


def test_saving_an_active_user_revokes_nothing(oauth, public_app, user):
    oauth.minted_tokens_for(public_app)

    user.first_name = "Alicia"
    user.save()

    assert get_access_token_model().objects.filter(user=user).exists()


@pytest.mark.parametrize("deactivate", [deactivate_with_save, deactivate_with_update], ids=["save", "update"])
def test_an_inactive_users_refresh_token_is_refused(oauth, public_app, user, deactivate):
    tokens = oauth.minted_tokens_for(public_app)
    deactivate(user)

    response = oauth.refresh(public_app.client_id, tokens["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("deactivate", [deactivate_with_save, deactivate_with_update], ids=["save", "update"])
def test_an_inactive_users_tokens_introspect_inactive(oauth, confidential_app, user, deactivate):
    application, secret = confidential_app
    tokens = oauth.minted_tokens_for(application)
    deactivate(user)

    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert oauth.introspect(token, application.client_id, secret).json() == {"active": False}


@pytest.mark.parametrize("url", [USERINFO_URL, ME_URL], ids=["userinfo", "resource-server kit"])
def test_an_inactive_users_access_token_is_refused_by_userinfo_and_the_kit(oauth, public_app, user, url):
    access_token = oauth.minted_tokens_for(public_app, scope="openid read:profile")["access_token"]
    deactivate_with_update(user)

    assert oauth.bearer_get(url, access_token).status_code == 401


def test_an_inactive_users_code_is_refused(oauth, public_app, user):
    request = AuthorizationRequest(client_id=public_app.client_id)
    code = oauth.authorize(request)
    deactivate_with_update(user)

    response = oauth.exchange(request, code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_tokens_of_a_user_deactivated_without_save_stay_dead_after_reactivation(oauth, public_app, user):
    tokens = oauth.minted_tokens_for(public_app, scope="openid read:profile")
    deactivate_with_update(user)
    user.refresh_from_db()
    user.is_active = True
    user.save()  # an admin reactivates the account

    response = oauth.refresh(public_app.client_id, tokens["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
