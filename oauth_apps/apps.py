from __future__ import annotations

from django.apps import AppConfig


class OAuthAppsConfig(AppConfig):
    name = "oauth_apps"
    verbose_name = "OAuth"

    def ready(self) -> None:
        from oauth_apps import checks, signals  # noqa: F401
