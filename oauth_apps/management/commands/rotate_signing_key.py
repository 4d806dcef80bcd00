from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from oauth_apps.keys import active_signing_key, expired_signing_keys, signing_key_prune, signing_key_rotate


class Command(BaseCommand):
    help = (
        "Make a new RS256 signing key the active one. Every server instance signs with it within "
        f"{settings.OAUTH_SIGNING_KEY_REFRESH_SECONDS} s; the previous key stays in the JWKS until the "
        "tokens it signed have expired. Retired keys past that point are deleted."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="say which keys would be retired and removed, change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            active = active_signing_key()
            expired = list(expired_signing_keys().values_list("kid", flat=True))
            retiring = f"retire signing key {active.kid}" if active is not None else "retire no key (none is active)"
            removing = f": {', '.join(expired)}" if expired else ""
            self.stdout.write(
                f"Would {retiring}, make a new one active and remove {len(expired)} expired key(s){removing}; "
                "changed nothing (--dry-run)."
            )
            return
        key = signing_key_rotate()
        pruned = signing_key_prune()
        self.stdout.write(f"New active signing key {key.kid}; {pruned} expired key(s) removed.")
