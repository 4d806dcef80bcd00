"""Remembered consent: the consent page is skipped for scopes the user already allowed."""

from __future__ import annotations

from oauth_apps.models import AuditEvent
from tests.oauth import AuthorizationRequest, redirect_params


def request_for(application, scope: str, **extra: str) -> AuthorizationRequest:
    return AuthorizationRequest(client_id=application.client_id, scope=scope, extra=extra)


def test_the_same_scopes_skip_the_consent_page(oauth, public_app):
    oauth.tokens_for(public_app, scope="openid read:profile")

    response = oauth.consent_page(request_for(public_app, "openid read:profile"))

    params = redirect_params(response)
    assert "code" in params
    assert params["iss"] == "https://auth.wetrials.test"


def test_fewer_scopes_skip_the_consent_page(oauth, public_app):
    oauth.tokens_for(public_app, scope="openid read:profile")

    assert "code" in redirect_params(oauth.consent_page(request_for(public_app, "read:profile")))


def test_new_scopes_ask_again_and_show_which_are_new(oauth, public_app):
    oauth.tokens_for(public_app, scope="openid read:profile")

    page = oauth.consent_page(request_for(public_app, "openid read:profile email"))

    assert page.status_code == 200
    items = {item["description"]: item["is_new"] for item in page.context["scope_items"]}
    assert items == {
        "Confirm your identity (sign you in)": False,
        "See your name and username": False,
        "See your email address": True,
    }
    assert page.context["asked_before"] is True
    assert page.content.decode().count('class="badge">new<') == 1


def test_allowing_new_scopes_remembers_them_too(oauth, public_app):
    oauth.tokens_for(public_app, scope="openid read:profile")
    oauth.tokens_for(public_app, scope="openid email")

    response = oauth.consent_page(request_for(public_app, "openid read:profile email"))

    assert "code" in redirect_params(response)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CONSENT_GRANTED).count() == 2


def test_prompt_consent_shows_the_page_anyway(oauth, public_app):
    oauth.tokens_for(public_app, scope="openid")

    page = oauth.consent_page(request_for(public_app, "openid", prompt="consent"))

    assert page.status_code == 200


def test_prompt_none_succeeds_silently_with_remembered_consent(oauth, public_app):
    oauth.tokens_for(public_app, scope="openid")

    params = redirect_params(oauth.consent_page(request_for(public_app, "openid", prompt="none")))

    assert "code" in params
    assert "error" not in params


def test_prompt_none_with_new_scopes_is_consent_required(oauth, public_app):
    oauth.tokens_for(public_app, scope="openid")

    params = redirect_params(oauth.consent_page(request_for(public_app, "openid email", prompt="none")))

    assert params["error"] == "consent_required"


def test_consent_is_per_client(oauth, public_app, make_application):
    other, _ = make_application(name="Other App")
    oauth.tokens_for(public_app, scope="openid")

    assert oauth.consent_page(request_for(other, "openid")).status_code == 200


def test_denying_remembers_nothing(oauth, public_app):
    oauth.sign_in()
    request = request_for(public_app, "openid")
    assert redirect_params(oauth.decide(request, allow=False))["error"] == "access_denied"

    assert oauth.consent_page(request_for(public_app, "openid")).status_code == 200


def test_scopes_that_tell_the_user_the_same_thing_are_listed_once(oauth, public_app):
    oauth.tokens_for(public_app, scope="openid")

    page = oauth.consent_page(request_for(public_app, "openid profile read:profile"))

    items = [(item["description"], item["is_new"]) for item in page.context["scope_items"]]
    assert items == [("Confirm your identity (sign you in)", False), ("See your name and username", True)]
    assert page.content.decode().count("See your name and username") == 1
