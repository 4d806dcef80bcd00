from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from oauth_apps.keys import signing_key_prune, signing_key_rotate


class Command(BaseCommand):
    help = (
        "Make a new RS256 signing key the active one. Every server instance signs with it within "
        f"{settings.OAUTH_SIGNING_KEY_REFRESH_SECONDS} s; the previous key stays in the JWKS until the "
        "tokens it signed have expired. Retired keys past that point are deleted."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        key = signing_key_rotate()
        pruned = signing_key_prune()
        self.stdout.write(f"New active signing key {key.kid}; {pruned} expired key(s) removed.")
