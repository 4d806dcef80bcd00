from __future__ import annotations

from typing import Any

from django.db.models.signals import pre_save
from django.dispatch import receiver

from accounts.models import User
from oauth_apps.models import AuditEvent
from oauth_apps.services import access_revoke


@receiver(pre_save, sender=User)
def revoke_access_when_active_changes(sender: type[User], instance: User, **kwargs: Any) -> None:
    """Deactivating a person (admin or code) ends every authorization they gave at once:
    token families, pending codes and remembered consents. The token paths refuse an inactive
    user's tokens too, for deactivations that bypass save() (QuerySet.update); and since an
    inactive person can obtain nothing, whatever they still hold when reactivated dates from
    before, and is revoked then."""
    update_fields = kwargs.get("update_fields")
    if instance.pk is None or (update_fields is not None and "is_active" not in update_fields):
        return
    if User.objects.filter(pk=instance.pk).exclude(is_active=instance.is_active).exists():
        access_revoke(actor=AuditEvent.Actor.SYSTEM, user=instance)
