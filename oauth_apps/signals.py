from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

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
