from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.caches, deploy=True)
def check_shared_rate_limit_cache(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.REDIS_URL:
        return []
    return [
        checks.Warning(
            "REDIS_URL is unset: rate limits are counted per process, so several server instances "
            "(or gunicorn workers) each allow the full rate.",
            hint="Set REDIS_URL to the Redis instance every server instance shares.",
            id="oauth_apps.W001",
        )
    ]
