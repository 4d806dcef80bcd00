from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import AbstractApplication, ApplicationManager

from oauth_apps.uris import origin_validate, redirect_target_matches, redirect_uri_matches, redirect_uri_validate

# RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'.
scope_name_validator = RegexValidator(
    r"^[\x21\x23-\x5B\x5D-\x7E]+$", "A scope name is printable ASCII without spaces, quotes or backslashes."
)


class Scope(models.Model):
    name = models.CharField(max_length=64, unique=True, validators=[scope_name_validator])
    description = models.CharField(max_length=255, help_text="Shown to users on the consent page.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Application(AbstractApplication):
    """A registered client. The one DOT model this project swaps (STYLE.md, habit 3)."""

    pkce_required = models.BooleanField(
        "PKCE required",
        default=True,
        help_text="Confidential clients only: public clients must always use PKCE.",
    )
    allowed_scopes = models.ManyToManyField(
        Scope, blank=True, related_name="applications", help_text="The most this client may ask for."
    )

    objects = ApplicationManager()

    class Meta(AbstractApplication.Meta):
        verbose_name = "application"

    def natural_key(self) -> tuple[str]:
        return (self.client_id,)

    @property
    def requires_pkce(self) -> bool:
        return self.client_type == self.CLIENT_PUBLIC or self.pkce_required

    @property
    def is_service_account(self) -> bool:
        return self.authorization_grant_type == self.GRANT_CLIENT_CREDENTIALS

    def clean(self) -> None:
        errors: dict[str, list[ValidationError]] = {}
        for uri in self.redirect_uris.split():
            try:
                redirect_uri_validate(uri)
            except ValidationError as exc:
                errors.setdefault("redirect_uris", []).append(exc)
        for origin in self.allowed_origins.split():
            try:
                origin_validate(origin)
            except ValidationError as exc:
                errors.setdefault("allowed_origins", []).append(exc)
        if self.authorization_grant_type == self.GRANT_AUTHORIZATION_CODE and not self.redirect_uris.split():
            errors.setdefault("redirect_uris", []).append(
                ValidationError("An authorization-code client needs at least one redirect URI.")
            )
        if self.is_service_account:
            if self.client_type != self.CLIENT_CONFIDENTIAL:
                errors.setdefault("client_type", []).append(
                    ValidationError("The client-credentials grant needs a confidential client.")
                )
            if self.redirect_uris.split():
                errors.setdefault("redirect_uris", []).append(
                    ValidationError("A client-credentials client (service account) takes no redirect URIs.")
                )
        elif self.authorization_grant_type != self.GRANT_AUTHORIZATION_CODE:
            errors.setdefault("authorization_grant_type", []).append(
                ValidationError("Only the authorization-code and client-credentials grants are offered.")
            )
        if errors:
            raise ValidationError(errors)

    def redirect_uri_allowed(self, uri: str) -> bool:
        return any(redirect_uri_matches(registered, uri) for registered in self.redirect_uris.split())

    def redirect_target_allowed(self, target: str) -> bool:
        return any(redirect_target_matches(registered, target) for registered in self.redirect_uris.split())

    def get_allowed_schemes(self) -> list[str]:
        # Where the authorize endpoint may send the browser: the schemes actually registered.
        return sorted({uri.split(":", 1)[0].lower() for uri in self.redirect_uris.split()})

    def origin_allowed(self, origin: str) -> bool:
        return origin in self.allowed_origins.split()


class SigningKey(models.Model):
    """An RS256 key pair. The private half is stored encrypted (see oauth_apps.keys)."""

    kid = models.CharField(max_length=64, unique=True)
    private_key_encrypted = models.TextField()
    public_jwk = models.JSONField()
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_signing_key"),
        ]

    def __str__(self) -> str:
        return self.kid


class Consent(models.Model):
    """What a user has allowed a client: the scopes remembered for the consent page and the
    row "Connected apps" lists. Revoking access deletes it with the tokens."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="consents")
    scope = models.TextField(help_text="Space-separated scopes the user has granted.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "application"], name="one_consent_per_user_and_client")]

    def __str__(self) -> str:
        return f"{self.user} → {self.application}"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()


class TokenFamily(models.Model):
    """One authorization: the code a person's consent produced and every token rotated from it.

    It keeps what the rotation must not change: the scopes the person granted (an omitted
    `scope` on refresh means these, RFC 6749 §6), when they signed in for it (`auth_time` of
    every ID token it yields, OIDC Core §12.2) and when it started, from which its absolute
    lifetime is counted (settings.OAUTH_REFRESH_TOKEN_LIFETIME: rotation never extends it).
    """

    # oauth_apps.oauth2.tokens.authorization_code_family(code): RefreshToken.token_family.
    family = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="token_families")
    scope = models.TextField(help_text="Space-separated scopes the person granted.")
    auth_time = models.DateTimeField(help_text="When the person signed in for this authorization.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = "token families"

    def __str__(self) -> str:
        return str(self.family)


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise TypeError("Audit events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only: prune_audit removes old ones.")

    def prune_oldest(self, *, created_before: datetime, limit: int) -> int:
        """Delete up to `limit` of the oldest events created before `created_before`; how many.

        The one way rows leave, for the retention command (audit.audit_events_prune) only.
        """
        pks = list(
            self.filter(created_at__lt=created_before).order_by("created_at", "id").values_list("pk", flat=True)[:limit]
        )
        if not pks:
            return 0
        # The base implementation: the guard above is for every other caller.
        deleted, _ = models.QuerySet.delete(self.filter(pk__in=pks))
        return deleted


class AuditEvent(models.Model):
    """One security-relevant event. Append-only: rows are written once and never changed."""

    class Kind(models.TextChoices):
        CLIENT_CREATED = "client_created", "Client created"
        CLIENT_CHANGED = "client_changed", "Client changed"
        SECRET_REGENERATED = "secret_regenerated", "Client secret regenerated"
        CONSENT_GRANTED = "consent_granted", "Consent granted"
        TOKENS_ISSUED = "tokens_issued", "Tokens issued"
        TOKEN_REQUEST_REJECTED = "token_request_rejected", "Token request rejected"
        CLIENT_AUTH_FAILED = "client_auth_failed", "Client authentication failed"
        CODE_REPLAY = "code_replay", "Authorization code replay detected"
        REFRESH_TOKEN_REPLAY = "refresh_token_replay", "Refresh-token replay detected"
        TOKENS_REVOKED = "tokens_revoked", "Tokens revoked"

    class Actor(models.TextChoices):
        USER = "user", "User"
        ADMIN = "admin", "Admin"
        CLIENT = "client", "Client"
        REPLAY = "replay", "Replay detection"
        SYSTEM = "system", "System"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.SUCCESS)
    actor = models.CharField(max_length=8, choices=Actor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The person who acted (staff member or user), when there is one.",
    )
    application = models.ForeignKey(Application, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Kept as text too, so the trail survives the client's deletion and names unknown client ids.
    client_id = models.CharField(max_length=100, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    # The usernames as text too, so the trail still names the people once their account is
    # deleted. db_default lets servers still running the previous release insert rows
    # without them while the migration rolls out.
    actor_username = models.CharField("actor's username", max_length=150, blank=True, default="", db_default="")
    username = models.CharField("user's username", max_length=150, blank=True, default="", db_default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=255, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["application", "kind", "-created_at"], name="audit_client_kind_time"),
            models.Index(fields=["user", "application", "kind", "-created_at"], name="audit_user_client_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_outcome_display()})"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only.")
