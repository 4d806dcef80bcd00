from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from oauth_apps.models import Scope
from oauth_apps.scopes import active_scopes_forget


@receiver([post_save, post_delete], sender=Scope)
def forget_cached_scopes(**kwargs: Any) -> None:
    active_scopes_forget()
