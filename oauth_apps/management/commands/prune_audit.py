from __future__ import annotations

import math
import re
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from oauth_apps.audit import audit_events_prune

# A year covers the annual access review and an incident found months late; older rows
# only keep people's addresses and usernames (README, "Audit log").
DEFAULT_RETENTION_DAYS = 365


def positive_int(value: str, option: str) -> int:
    # Digits only: int() would also take "+5", " 5" and non-ASCII digits.
    if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
        raise CommandError(f"{option} must be a positive whole number, not {value!r}.")
    return int(value)


class Command(BaseCommand):
    help = (
        "Delete audit events older than --older-than days (default "
        f"{DEFAULT_RETENTION_DAYS}), oldest first, in batches of one short transaction each, while "
        "the server keeps serving. The only way audit events are ever removed; run it from cron (daily)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="DAYS",
            default=str(DEFAULT_RETENTION_DAYS),
            help=f"delete events created more than DAYS days ago (default {DEFAULT_RETENTION_DAYS})",
        )
        parser.add_argument("--batch-size", metavar="N", default="1000", help="rows per transaction (default 1000)")
        parser.add_argument("--pause", type=float, default=0.01, help="seconds between batches (default 0.01)")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        days = positive_int(str(options["older_than"]), "--older-than")
        batch_size = positive_int(str(options["batch_size"]), "--batch-size")
        if not math.isfinite(options["pause"]) or options["pause"] < 0:
            raise CommandError("--pause must be a number of seconds, at least 0.")
        try:
            older_than = timedelta(days=days)
            result = audit_events_prune(
                older_than=older_than, batch_size=batch_size, pause=options["pause"], dry_run=options["dry_run"]
            )
        except OverflowError:
            raise CommandError(f"--older-than {days} reaches back before the year 1.") from None
        before = result.created_before.isoformat(timespec="seconds")
        if options["dry_run"]:
            self.stdout.write(
                f"Would delete {result.deleted} audit events created before {before} ({days} days); "
                "deleted nothing (--dry-run)."
            )
        else:
            self.stdout.write(
                f"Deleted {result.deleted} audit events created before {before} ({days} days) "
                f"in {result.batches} batches."
            )
