from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from oauth_apps.admin import BoundedSearchMixin
from oauth_apps.models import AuditEvent
from oauth_apps.services import access_revoke


@admin.register(User)
class UserAdmin(BoundedSearchMixin, DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Identity", {"fields": ("email_verified",)}))
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_active")
    actions = ("revoke_all_tokens",)

    # Revoking changes what the users' apps may do: the change permission, not just view.
    @admin.action(permissions=["change"], description="Revoke every token of the selected users")
    def revoke_all_tokens(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        revoked = sum(
            access_revoke(actor=AuditEvent.Actor.ADMIN, user=user, actor_user=request.user) for user in queryset
        )
        self.message_user(request, f"Revoked {revoked} authorization(s) of {len(queryset)} user(s).")
