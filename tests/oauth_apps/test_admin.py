"""Staff administration of clients in the Django admin."""

from __future__ import annotations

import pytest

from oauth_apps.models import Application, AuditEvent, Scope
from tests.oauth import HttpsClient, basic_auth

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
    tokens = oauth.tokens_for(public_app)

    admin.post(CHANGELIST_URL, {"action": "revoke_all_tokens", "_selected_action": [public_app.pk]})

    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.TOKENS_REVOKED)
    assert (event.actor, event.actor_user, event.application) == ("admin", staff, public_app)


def test_admin_revocation_of_a_user_makes_their_refresh_tokens_fail_at_once(admin, oauth, public_app, user):
    tokens = oauth.tokens_for(public_app)

    admin.post("/admin/accounts/user/", {"action": "revoke_all_tokens", "_selected_action": [user.pk]})

    assert oauth.refresh(public_app.client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_refresh_token_admin_revokes_the_family(admin, oauth, public_app):
    from oauth2_provider.models import get_refresh_token_model

    first = oauth.tokens_for(public_app)
    second = oauth.refresh(public_app.client_id, first["refresh_token"]).json()
    oldest = get_refresh_token_model().objects.order_by("pk").first()

    admin.post("/admin/oauth2_provider/refreshtoken/", {"action": "revoke_tokens", "_selected_action": [oldest.pk]})

    assert oauth.refresh(public_app.client_id, second["refresh_token"]).json()["error"] == "invalid_grant"


def test_tokens_cannot_be_added_by_hand(admin):
    assert admin.get("/admin/oauth2_provider/accesstoken/add/").status_code == 403
    assert admin.get("/admin/oauth2_provider/refreshtoken/add/").status_code == 403


def test_the_client_list_shows_when_each_client_was_last_used(admin, oauth, public_app, confidential_app):
    oauth.tokens_for(public_app)

    response = admin.get(CHANGELIST_URL)

    rows = {app.name: app.last_used_at for app in response.context["cl"].result_list}
    assert rows["Study Tracker"] is not None
    assert rows["Research Portal"] is None


def test_the_audit_log_is_read_only_and_filterable(admin, oauth, public_app):
    oauth.tokens_for(public_app)

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
