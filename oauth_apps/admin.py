"""Staff administration of clients, scopes, tokens and the audit log.

DOT registers its own admin classes for its models; ours are subclasses wired in through
DOT's *_ADMIN_CLASS settings (config/settings.py), so nothing is registered twice.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import ngettext
from oauth2_provider import admin as dot_admin

from oauth_apps.models import Application, AuditEvent, Scope
from oauth_apps.selectors import last_token_issued
from oauth_apps.services import (
    access_revoke,
    access_token_revoke,
    application_save,
    client_secret_regenerate,
    refresh_token_revoke,
)

SHOWN_ONCE_TEMPLATE = "admin/oauth_apps/application/client_secret.html"


class BoundedSearchMixin:
    """Search terms as long as anything staff look for. SQLite refuses LIKE patterns over
    50,000 bytes, so an unbounded `?q=` would be a 500 rather than an empty result."""

    search_term_max_length = 200

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        return super().get_search_results(request, queryset, search_term[: self.search_term_max_length])


@admin.register(Scope)
class ScopeAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ("name", "description", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "description")


OFFERED_GRANTS = (Application.GRANT_AUTHORIZATION_CODE, Application.GRANT_CLIENT_CREDENTIALS)


class ApplicationForm(forms.ModelForm):
    class Meta:
        model = Application
        fields = (
            "name",
            "client_type",
            "authorization_grant_type",
            "redirect_uris",
            "allowed_origins",
            "allowed_scopes",
            "pkce_required",
            "user",
        )
        labels = {"user": "Owner", "authorization_grant_type": "Grant"}
        help_texts = {
            "redirect_uris": "One per line. https only; loopback http://127.0.0.1 or http://[::1] (any port) and "
            "private-use schemes (com.example.app:/callback) for native apps. No wildcards, fragments or user info.",
            "allowed_origins": "Single-page apps only: one origin per line (https://app.example.com), no path.",
            "user": "The staff member or team account responsible for this client (required for service accounts).",
        }
        widgets = {"allowed_scopes": forms.CheckboxSelectMultiple}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grant = self.fields["authorization_grant_type"]
        grant.choices = [(value, label) for value, label in grant.choices if value in OFFERED_GRANTS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        is_service_account = cleaned.get("authorization_grant_type") == Application.GRANT_CLIENT_CREDENTIALS
        if is_service_account and not cleaned.get("user"):
            self.add_error("user", "A service account needs an owner.")
        return cleaned


class ApplicationAdmin(BoundedSearchMixin, admin.ModelAdmin):
    form = ApplicationForm
    list_display = ("name", "client_id", "client_type", "authorization_grant_type", "user", "last_used")
    list_filter = ("client_type", "authorization_grant_type")
    search_fields = ("name", "client_id")
    raw_id_fields = ("user",)
    readonly_fields = ("client_id", "created", "updated", "last_used")
    radio_fields = {"client_type": admin.HORIZONTAL, "authorization_grant_type": admin.VERTICAL}
    actions = ("regenerate_secret", "revoke_all_tokens")
    fieldsets = (
        (None, {"fields": ("name", "client_id", "client_type", "authorization_grant_type", "user")}),
        ("Where it may send users", {"fields": ("redirect_uris", "allowed_origins")}),
        ("What it may ask for", {"fields": ("allowed_scopes", "pkce_required")}),
        ("History", {"fields": ("created", "updated", "last_used")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Application]:
        return super().get_queryset(request).annotate(last_used_at=last_token_issued(application=OuterRef("pk")))

    @admin.display(description="Last used", ordering="last_used_at")
    def last_used(self, application: Application) -> Any:
        return getattr(application, "last_used_at", None) or "Never"

    def save_model(self, request: HttpRequest, obj: Application, form: Any, change: bool) -> None:
        # The one moment the secret exists in plain text: keep it for the response only.
        request.new_client_secret = application_save(application=obj, actor_user=request.user)

    def response_add(
        self, request: HttpRequest, obj: Application, post_url_continue: str | None = None
    ) -> HttpResponse:
        return self.secret_response(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Application) -> HttpResponse:
        return self.secret_response(request, obj) or super().response_change(request, obj)

    def secret_response(self, request: HttpRequest, application: Application) -> HttpResponse | None:
        secret = getattr(request, "new_client_secret", None)
        if secret is None:
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "application": application,
            "client_secret": secret,
            "title": f"Client secret for {application.name}",
        }
        response = TemplateResponse(request, SHOWN_ONCE_TEMPLATE, context)
        response["Cache-Control"] = "no-store"
        return response

    # Every action changes what a client or token may do, so each needs the change permission:
    # Django then neither offers it nor runs it for a staff member who may only view.
    @admin.action(permissions=["change"], description="Regenerate the client secret (shown once)")
    def regenerate_secret(self, request: HttpRequest, queryset: QuerySet[Application]) -> HttpResponse | None:
        confidential = [app for app in queryset if app.client_type == Application.CLIENT_CONFIDENTIAL]
        if len(confidential) != 1 or len(queryset) != 1:
            self.message_user(request, "Select exactly one confidential client.", messages.ERROR)
            return None
        [application] = confidential
        # Django checked the action's permission without an object; this one discloses a
        # credential, so it asks again for this very client.
        if not self.has_change_permission(request, application):
            raise PermissionDenied
        request.new_client_secret = client_secret_regenerate(application=application, actor_user=request.user)
        return self.secret_response(request, application)

    @admin.action(permissions=["change"], description="Revoke every token of the selected clients")
    def revoke_all_tokens(self, request: HttpRequest, queryset: QuerySet[Application]) -> None:
        revoked = sum(
            access_revoke(actor=AuditEvent.Actor.ADMIN, application=application, actor_user=request.user)
            for application in queryset
        )
        self.message_user(request, f"Revoked {revoked} authorization(s) of {len(queryset)} client(s).")


# Tokens are stored as checksums, so there is nothing secret to mask beyond what DOT hides;
# the actions revoke whole families through the same services as the revocation endpoint,
# and need the change permission (DOT's own actions declare none, so a viewer could run them).


class AccessTokenAdmin(BoundedSearchMixin, dot_admin.AccessTokenAdmin):
    list_display = ("pk", "user", "application", "scope", "expires")

    @admin.action(permissions=["change"], description="Revoke selected access tokens and their families")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        revoked = 0
        for access_token in queryset.select_related("refresh_token__user", "application"):
            access_token_revoke(access_token=access_token, actor=AuditEvent.Actor.ADMIN, actor_user=request.user)
            revoked += 1
        self.message_user(request, ngettext("Revoked %d access token.", "Revoked %d access tokens.", revoked) % revoked)


class RefreshTokenAdmin(BoundedSearchMixin, dot_admin.RefreshTokenAdmin):
    list_display = ("pk", "user", "application", "created", "revoked")
    list_filter = ("application", "revoked")

    @admin.action(permissions=["change"], description="Revoke selected refresh tokens and their families")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # One token per family: revoking any member revokes them all.
        families = {token.token_family: token for token in queryset.select_related("application", "user")}
        families.pop(None, None)
        for refresh_token in families.values():
            refresh_token_revoke(refresh_token=refresh_token, actor=AuditEvent.Actor.ADMIN, actor_user=request.user)
        self.message_user(request, f"Revoked {len(families)} token famil{'y' if len(families) == 1 else 'ies'}.")


class GrantAdmin(BoundedSearchMixin, dot_admin.GrantAdmin):
    pass


class IDTokenAdmin(BoundedSearchMixin, dot_admin.IDTokenAdmin):
    pass


@admin.register(AuditEvent)
class AuditEventAdmin(BoundedSearchMixin, admin.ModelAdmin):
    """Read-only: the trail is written by the server, never by hand."""

    # The usernames as recorded, not the foreign keys: they still name a deleted account.
    list_display = (
        "created_at",
        "kind",
        "outcome",
        "actor",
        "actor_username",
        "application_name",
        "username",
        "ip_address",
    )
    list_filter = (
        "kind",
        "outcome",
        "actor",
        ("application", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    )
    date_hierarchy = "created_at"
    search_fields = ("client_id", "username", "actor_username", "detail")
    list_select_related = ("application",)

    @admin.display(description="Client")
    def application_name(self, event: AuditEvent) -> str:
        return event.application.name if event.application else event.client_id

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
