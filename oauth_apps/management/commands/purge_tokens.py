from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from oauth_apps.services import expired_tokens_delete


class Command(BaseCommand):
    help = (
        "Delete expired and revoked tokens and expired authorization codes in short batches, "
        "while the server keeps serving. Run it from cron (hourly is plenty)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per transaction (default 1000)")
        parser.add_argument("--pause", type=float, default=0.01, help="seconds between batches (default 0.01)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1 or options["pause"] < 0:
            raise CommandError("--batch-size must be at least 1 and --pause at least 0.")
        for result in expired_tokens_delete(batch_size=options["batch_size"], pause=options["pause"]):
            self.stdout.write(
                f"{result.kind}: {result.deleted} deleted in {result.batches} batches"
                f" (longest {result.longest_batch_ms:.0f} ms)"
            )
