from __future__ import annotations

from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    """Operators' commands that replace django-oauth-toolkit's own (cleartokens).

    Django runs the command of the first installed app that has it, so this app is listed
    before oauth2_provider; oauth_apps itself can't be, since its admin subclasses DOT's.
    """

    name = "oauth_apps.maintenance"
    label = "oauth_maintenance"
    verbose_name = "OAuth maintenance"
