from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import Error as DatabaseError

from oauth_apps.keys import undecryptable_message, undecryptable_signing_keys


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


@checks.register(checks.Tags.database)
def check_signing_keys_decrypt(
    app_configs: Any, databases: list[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """`manage.py check --database default` (and migrate): every live signing key opens."""
    if not databases or "default" not in databases:
        return []
    try:
        kids = undecryptable_signing_keys()
    except DatabaseError:
        return []  # migrate runs this check before the table exists
    return [checks.Error(undecryptable_message(kid), id="oauth_apps.E001") for kid in kids]
