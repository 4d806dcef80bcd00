from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from oauth_apps.selectors import expired_token_counts
from oauth_apps.services import expired_tokens_delete


class Command(BaseCommand):
    help = (
        "Delete expired and revoked tokens and expired authorization codes in short batches, "
        "while the server keeps serving. Run it from cron (hourly is plenty)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per transaction (default 1000)")
        parser.add_argument("--pause", type=float, default=0.01, help="seconds between batches (default 0.01)")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1 or options["pause"] < 0:
            raise CommandError("--batch-size must be at least 1 and --pause at least 0.")
        if options["dry_run"]:
            counts = expired_token_counts(now=timezone.now())
            for kind, count in counts:
                self.stdout.write(f"{kind}: {count} would be deleted")
            total = sum(count for _, count in counts)
            self.stdout.write(f"Would delete {total} rows in all; deleted nothing (--dry-run).")
            return
        results = expired_tokens_delete(batch_size=options["batch_size"], pause=options["pause"])
        for result in results:
            self.stdout.write(
                f"{result.kind}: {result.deleted} deleted in {result.batches} batches"
                f" (longest {result.longest_batch_ms:.0f} ms)"
            )
        self.stdout.write(f"Deleted {sum(result.deleted for result in results)} rows in all.")
