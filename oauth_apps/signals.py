from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from oauth_apps.models import Application, Scope
from oauth_apps.scopes import active_scopes_forget
from oauth_apps.views.cors import registered_origins_forget


@receiver([post_save, post_delete], sender=Scope)
def forget_cached_scopes(**kwargs: Any) -> None:
    active_scopes_forget()


@receiver([post_save, post_delete], sender=Application)
def forget_registered_origins(**kwargs: Any) -> None:
    registered_origins_forget()
    # Again once committed: a preflight served meanwhile may have reloaded the old origins.
    transaction.on_commit(registered_origins_forget)


@receiver(m2m_changed, sender=Application.allowed_scopes.through)
def mark_client_changed(*, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any) -> None:
    """A change of the scopes a client may ask for moves the client's `updated` time, which
    tells every process to read them again (scopes.allowed_scope_names)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:
        changed = Application.objects.filter(pk=instance.pk)
    elif action == "pre_clear":  # the scope's clients, before they are gone from it
        changed = Application.objects.filter(allowed_scopes=instance)
    else:
        changed = Application.objects.filter(pk__in=pk_set or ())
    changed.update(updated=timezone.now())
