"""Staff administration of clients in the Django admin."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission
from oauth2_provider.models import get_access_token_model

from oauth_apps.models import Application, AuditEvent, Scope
from tests.oauth import ME_URL, HttpsClient, basic_auth

ADD_URL = "/admin/oauth_apps/application/add/"
CHANGELIST_URL = "/admin/oauth_apps/application/"


@pytest.fixture
def staff(make_user):
    return make_user("staff", is_staff=True, is_superuser=True)


@pytest.fixture
def admin(staff) -> HttpsClient:
    """The staff member's browser (the `oauth` fixture's client is the end user's)."""
    browser = HttpsClient()
    browser.force_login(staff)
    return browser


def scope_ids(*names: str) -> list[str]:
    return [str(pk) for pk in Scope.objects.filter(name__in=names).values_list("pk", flat=True)]


def client_form(**changes: object) -> dict[str, object]:
    form = {
        "name": "Research Portal",
        "client_type": "confidential",
        "authorization_grant_type": "authorization-code",
        "redirect_uris": "https://portal.example.com/cb\nhttps://portal.example.com/cb2",
        "allowed_origins": "",
        "allowed_scopes": scope_ids("read:profile", "write:studies"),
        "pkce_required": "on",
        "user": "",
    }
    form.update(changes)
    return {name: value for name, value in form.items() if value is not None}


@pytest.mark.parametrize(
    ("redirect_uris", "message"),
    [
        ("http://example.com/cb", "https"),
        ("https://*.example.com/cb", "wildcard"),
        ("https://example.com/cb#frag", "fragment"),
        ("https://user:pw@example.com/cb", "user"),
        ("", "at least one redirect URI"),
    ],
)
def test_bad_redirect_uris_are_form_errors(admin, redirect_uris, message):
    response = admin.post(ADD_URL, client_form(redirect_uris=redirect_uris))

    assert response.status_code == 200  # the form again, not a 500
    errors = response.context["adminform"].form.errors["redirect_uris"]
    assert any(message in error for error in errors), errors
    assert not Application.objects.exists()


def test_public_client_cannot_have_the_client_credentials_grant(admin, staff):
    response = admin.post(
        ADD_URL,
        client_form(
            client_type="public", authorization_grant_type="client-credentials", redirect_uris="", user=staff.pk
        ),
    )

    assert response.status_code == 200
    assert "confidential client" in str(response.context["adminform"].form.errors["client_type"])
    assert not Application.objects.exists()


def test_the_form_offers_only_the_grants_the_server_supports(admin):
    form = admin.get(ADD_URL).context["adminform"].form
    assert [value for value, _ in form.fields["authorization_grant_type"].choices] == [
        "authorization-code",
        "client-credentials",
    ]

    response = admin.post(ADD_URL, client_form(authorization_grant_type="password"))

    assert "authorization_grant_type" in response.context["adminform"].form.errors
    assert not Application.objects.exists()


def test_service_account_needs_an_owner(admin):
    response = admin.post(ADD_URL, client_form(authorization_grant_type="client-credentials", redirect_uris=""))

    assert "needs an owner" in str(response.context["adminform"].form.errors["user"])


def test_the_secret_is_shown_once_and_only_its_hash_is_kept(admin, staff, oauth):
    response = admin.post(ADD_URL, client_form())

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["client_secret"]
    application = Application.objects.get()
    assert secret in response.content.decode()
    assert secret not in application.client_secret
    assert application.client_secret.startswith("client_sha256$")
    assert sorted(application.allowed_scopes.values_list("name", flat=True)) == ["read:profile", "write:studies"]
    change_page = admin.get(f"{CHANGELIST_URL}{application.pk}/change/").content.decode()
    assert secret not in change_page
    assert application.client_secret not in change_page
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.CLIENT_CREATED)
    assert event.actor_user == staff


def test_changing_a_client_is_audited_and_shows_no_secret(admin, staff, confidential_app):
    application, _ = confidential_app
    form = client_form(name="Renamed Portal", redirect_uris="https://app.example.com/callback")

    response = admin.post(f"{CHANGELIST_URL}{application.pk}/change/", form)

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.name == "Renamed Portal"
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.CLIENT_CHANGED)
    assert (event.application, event.actor_user) == (application, staff)


def test_regenerating_the_secret_shows_the_new_one_once_and_the_old_one_fails(admin, oauth, service_account):
    application, old_secret = service_account

    response = admin.post(CHANGELIST_URL, {"action": "regenerate_secret", "_selected_action": [application.pk]})

    new_secret = response.context["client_secret"]
    assert new_secret != old_secret
    grant = {"grant_type": "client_credentials", "scope": "read:participants"}
    assert oauth.token(grant, basic_auth(application.client_id, old_secret)).status_code == 401
    assert oauth.token(grant, basic_auth(application.client_id, new_secret)).status_code == 200
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SECRET_REGENERATED).count() == 1


def test_regenerating_a_public_clients_secret_is_refused(admin, public_app):
    response = admin.post(
        CHANGELIST_URL, {"action": "regenerate_secret", "_selected_action": [public_app.pk]}, follow=True
    )

    assert "Select exactly one confidential client" in response.content.decode()


def test_admin_revocation_of_a_client_makes_its_refresh_tokens_fail_at_once(admin, staff, oauth, public_app):
    tokens = oauth.minted_tokens_for(public_app)

    admin.post(CHANGELIST_URL, {"action": "revoke_all_tokens", "_selected_action": [public_app.pk]})

    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.TOKENS_REVOKED)
    assert (event.actor, event.actor_user, event.application) == ("admin", staff, public_app)


def test_admin_revocation_of_a_user_makes_their_refresh_tokens_fail_at_once(admin, oauth, public_app, user):
    tokens = oauth.minted_tokens_for(public_app)

    admin.post("/admin/accounts/user/", {"action": "revoke_all_tokens", "_selected_action": [user.pk]})

    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_refresh_token_admin_revokes_the_family(admin, oauth, public_app):
    from oauth2_provider.models import get_refresh_token_model

    first = oauth.minted_tokens_for(public_app)
    second = oauth.refresh(public_app.client_id, first["refresh_token"]).json()
    oldest = get_refresh_token_model().objects.order_by("pk").first()

    admin.post("/admin/oauth2_provider/refreshtoken/", {"action": "revoke_tokens", "_selected_action": [oldest.pk]})

    assert oauth.refresh(public_app.client_id, second["refresh_token"]).json()["error"] == "invalid_grant"


def test_tokens_cannot_be_added_by_hand(admin):
    assert admin.get("/admin/oauth2_provider/accesstoken/add/").status_code == 403
    assert admin.get("/admin/oauth2_provider/refreshtoken/add/").status_code == 403


def test_the_client_list_shows_when_each_client_was_last_used(admin, oauth, public_app, confidential_app):
    oauth.minted_tokens_for(public_app)

    response = admin.get(CHANGELIST_URL)

    rows = {app.name: app.last_used_at for app in response.context["cl"].result_list}
    assert rows["Study Tracker"] is not None
    assert rows["Research Portal"] is None


def test_the_audit_log_is_read_only_and_filterable(admin, oauth, public_app):
    oauth.minted_tokens_for(public_app)

    listing = admin.get("/admin/oauth_apps/auditevent/", {"kind__exact": "tokens_issued"})

    assert listing.status_code == 200
    assert [event.kind for event in listing.context["cl"].result_list] == ["tokens_issued"]
    event = AuditEvent.objects.first()
    assert admin.get("/admin/oauth_apps/auditevent/add/").status_code == 403
    assert admin.post(f"/admin/oauth_apps/auditevent/{event.pk}/delete/").status_code == 403


def test_scope_changes_in_the_admin_show_at_once(admin):
    from oauth_apps.scopes import active_scopes

    assert "write:studies" in active_scopes()
    scope = Scope.objects.get(name="write:studies")

    admin.post(
        f"/admin/oauth_apps/scope/{scope.pk}/change/",
        {"name": "write:studies", "description": scope.description},  # is_active unticked
    )

    assert "write:studies" not in active_scopes()
    assert "write:studies" not in admin.get("/.well-known/openid-configuration").json()["scopes_supported"]


# --- Which staff member may run which action -------------------------------------------------

USER_CHANGELIST_URL = "/admin/accounts/user/"
ACCESS_TOKEN_CHANGELIST_URL = "/admin/oauth2_provider/accesstoken/"
REFRESH_TOKEN_CHANGELIST_URL = "/admin/oauth2_provider/refreshtoken/"


@pytest.fixture
def staff_browser(make_user):
    """A signed-in staff member (not a superuser) holding exactly `permissions` ("app.codename")."""

    members = itertools.count(1)

    def make(*permissions: str) -> HttpsClient:
        member = make_user(f"staff-{next(members)}", is_staff=True)
        for permission in permissions:
            app_label, codename = permission.split(".")
            member.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        browser = HttpsClient()
        browser.force_login(member)
        return browser

    return make


def offered_actions(browser: HttpsClient, changelist_url: str) -> set[str]:
    response = browser.get(changelist_url)
    assert response.status_code == 200
    action_form = response.context["action_form"]  # None when no action is offered at all
    return {name for name, _ in action_form.fields["action"].choices if name} if action_form else set()


@pytest.mark.parametrize(
    ("changelist_url", "view_permission"),
    [
        (CHANGELIST_URL, "oauth_apps.view_application"),
        (USER_CHANGELIST_URL, "accounts.view_user"),
        (ACCESS_TOKEN_CHANGELIST_URL, "oauth2_provider.view_accesstoken"),
        (REFRESH_TOKEN_CHANGELIST_URL, "oauth2_provider.view_refreshtoken"),
    ],
)
def test_a_view_only_staff_member_is_offered_no_action(staff_browser, changelist_url, view_permission):
    assert offered_actions(staff_browser(view_permission), changelist_url) == set()


@pytest.mark.parametrize(
    ("changelist_url", "permissions", "actions"),
    [
        (
            CHANGELIST_URL,
            ("oauth_apps.view_application", "oauth_apps.change_application"),
            {"regenerate_secret", "revoke_all_tokens"},
        ),
        (USER_CHANGELIST_URL, ("accounts.view_user", "accounts.change_user"), {"revoke_all_tokens"}),
        (ACCESS_TOKEN_CHANGELIST_URL, ("oauth2_provider.change_accesstoken",), {"revoke_tokens"}),
        (REFRESH_TOKEN_CHANGELIST_URL, ("oauth2_provider.change_refreshtoken",), {"revoke_tokens"}),
        (
            CHANGELIST_URL,
            ("oauth_apps.view_application", "oauth_apps.delete_application"),
            {"delete_selected"},
        ),
    ],
)
def test_each_action_is_offered_with_the_permission_it_needs(staff_browser, changelist_url, permissions, actions):
    assert offered_actions(staff_browser(*permissions), changelist_url) == actions


def test_a_view_only_staff_member_cannot_regenerate_a_client_secret(staff_browser, oauth, service_account):
    application, secret = service_account
    stored_hash = application.client_secret
    viewer = staff_browser("oauth_apps.view_application")

    response = viewer.post(CHANGELIST_URL, {"action": "regenerate_secret", "_selected_action": [application.pk]})

    assert response.status_code in (200, 302, 403)
    assert "client_secret" not in (response.context or {})
    assert b"Client secret for" not in response.content
    application.refresh_from_db()
    assert application.client_secret == stored_hash
    grant = {"grant_type": "client_credentials", "scope": "read:participants"}
    assert oauth.token(grant, basic_auth(application.client_id, secret)).status_code == 200
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.SECRET_REGENERATED).exists()


def test_a_view_only_staff_member_cannot_reach_the_secret_page_through_the_client_forms(
    staff_browser, confidential_app
):
    application, _ = confidential_app
    stored_hash = application.client_secret
    viewer = staff_browser("oauth_apps.view_application")

    added = viewer.post(ADD_URL, client_form())
    changed = viewer.post(f"{CHANGELIST_URL}{application.pk}/change/", client_form(name="Renamed Portal"))

    assert (added.status_code, changed.status_code) == (403, 403)
    assert Application.objects.count() == 1
    application.refresh_from_db()
    assert (application.name, application.client_secret) == ("Research Portal", stored_hash)


def test_a_staff_member_with_the_change_permission_can_regenerate_a_client_secret(
    staff_browser, oauth, service_account
):
    application, old_secret = service_account
    editor = staff_browser("oauth_apps.view_application", "oauth_apps.change_application")

    response = editor.post(CHANGELIST_URL, {"action": "regenerate_secret", "_selected_action": [application.pk]})

    new_secret = response.context["client_secret"]
    assert new_secret != old_secret
    grant = {"grant_type": "client_credentials", "scope": "read:participants"}
    assert oauth.token(grant, basic_auth(application.client_id, new_secret)).status_code == 200


def revocation_target(name: str, *, application: Application, user: object) -> tuple[str, str, object]:
    """The changelist, the action and the selected row of each revocation action."""
    access_token = get_access_token_model().objects.get()
    return {
        "client": (CHANGELIST_URL, "revoke_all_tokens", application.pk),
        "user": (USER_CHANGELIST_URL, "revoke_all_tokens", user.pk),
        "access token": (ACCESS_TOKEN_CHANGELIST_URL, "revoke_tokens", access_token.pk),
        "refresh token": (REFRESH_TOKEN_CHANGELIST_URL, "revoke_tokens", access_token.refresh_token.pk),
    }[name]


REVOCATIONS = {
    "client": ("oauth_apps.view_application", "oauth_apps.change_application"),
    "user": ("accounts.view_user", "accounts.change_user"),
    "access token": ("oauth2_provider.view_accesstoken", "oauth2_provider.change_accesstoken"),
    "refresh token": ("oauth2_provider.view_refreshtoken", "oauth2_provider.change_refreshtoken"),
}


@pytest.mark.parametrize("target", REVOCATIONS)
def test_a_view_only_staff_member_cannot_revoke_tokens(staff_browser, oauth, public_app, user, target):
    tokens = oauth.minted_tokens_for(public_app)
    view_permission, _ = REVOCATIONS[target]
    changelist_url, action, pk = revocation_target(target, application=public_app, user=user)

    response = staff_browser(view_permission).post(changelist_url, {"action": action, "_selected_action": [pk]})

    assert response.status_code in (200, 302, 403)
    assert oauth.bearer_get(ME_URL, tokens["access_token"]).status_code == 200
    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).status_code == 200
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKENS_REVOKED).exists()


@pytest.mark.parametrize("target", REVOCATIONS)
def test_a_staff_member_with_the_change_permission_can_revoke_tokens(staff_browser, oauth, public_app, user, target):
    tokens = oauth.minted_tokens_for(public_app)
    changelist_url, action, pk = revocation_target(target, application=public_app, user=user)

    staff_browser(*REVOCATIONS[target]).post(changelist_url, {"action": action, "_selected_action": [pk]})

    assert oauth.bearer_get(ME_URL, tokens["access_token"]).status_code == 401
    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("target", ["access token", "refresh token"])
def test_revoking_a_token_in_the_admin_writes_one_event_naming_the_staff_member(
    admin, staff, oauth, public_app, user, target
):
    oauth.tokens_for(public_app)
    changelist_url, action, pk = revocation_target(target, application=public_app, user=user)

    admin.post(changelist_url, {"action": action, "_selected_action": [pk]})

    [event] = AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKENS_REVOKED)
    assert (event.actor, event.actor_user, event.application, event.user) == ("admin", staff, public_app, user)


def test_selecting_several_tokens_of_one_family_revokes_it_once(admin, oauth, public_app):
    from oauth2_provider.models import get_refresh_token_model

    first = oauth.tokens_for(public_app)
    oauth.refresh(public_app.client_id, first["refresh_token"])
    both = list(get_refresh_token_model().objects.values_list("pk", flat=True))

    response = admin.post(
        REFRESH_TOKEN_CHANGELIST_URL, {"action": "revoke_tokens", "_selected_action": both}, follow=True
    )

    assert "Revoked 1 token family." in response.content.decode()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKENS_REVOKED).count() == 1


@pytest.mark.parametrize(
    ("changelist_url", "view_permission"),
    [(CHANGELIST_URL, "oauth_apps.view_application"), (USER_CHANGELIST_URL, "accounts.view_user")],
)
def test_a_view_only_staff_member_cannot_delete_clients_or_users(
    staff_browser, public_app, user, changelist_url, view_permission
):
    pk = public_app.pk if changelist_url == CHANGELIST_URL else user.pk

    response = staff_browser(view_permission).post(
        changelist_url, {"action": "delete_selected", "_selected_action": [pk], "post": "yes"}
    )

    assert response.status_code in (200, 302, 403)
    assert Application.objects.filter(pk=public_app.pk).exists()
    assert type(user).objects.filter(pk=user.pk).exists()
