"""prune_audit: the retention command, the only way audit events leave."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from oauth_apps.audit import audit_record
from oauth_apps.management.commands.prune_audit import DEFAULT_RETENTION_DAYS
from oauth_apps.models import AuditEvent

Kind = AuditEvent.Kind


@contextmanager
def days_ago(days: float, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Events recorded inside this block are `days` old (created_at is set on insert)."""
    then = timezone.now() - timedelta(days=days)
    with monkeypatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: then)
        yield


@pytest.fixture
def record(monkeypatch, db):
    def make(age_in_days: float, count: int = 1) -> None:
        with days_ago(age_in_days, monkeypatch):
            for _ in range(count):
                audit_record(Kind.TOKENS_ISSUED, actor="client", detail=f"{age_in_days} days old")

    return make


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_audit", *args, stdout=out)
    return out.getvalue()


def ages() -> list[str]:
    return sorted(AuditEvent.objects.values_list("detail", flat=True))


def test_prune_audit_deletes_only_events_older_than_the_given_days(record):
    record(31, count=2)
    record(29)

    output = prune("--older-than", "30")

    assert ages() == ["29 days old"]
    assert output.count("\n") == 1
    assert output.startswith("Deleted 2 audit events created before ")


def test_prune_audit_deletes_in_batches_of_the_given_size(record):
    record(400, count=5)
    record(1)

    output = prune("--older-than", "365", "--batch-size", "2", "--pause", "0")

    assert ages() == ["1 days old"]
    assert "Deleted 5 audit events" in output
    assert "in 3 batches" in output


def test_prune_audit_keeps_a_year_by_default(record):
    assert DEFAULT_RETENTION_DAYS == 365
    record(366)
    record(364)

    prune()

    assert ages() == ["364 days old"]


def test_prune_audit_dry_run_counts_and_deletes_nothing(record):
    record(100, count=3)

    output = prune("--older-than", "30", "--dry-run")

    assert AuditEvent.objects.count() == 3
    assert output.startswith("Would delete 3 audit events")
    assert "deleted nothing" in output
    assert output.count("\n") == 1


@pytest.mark.parametrize("days", ["0", "-1", "abc", "1.5", "", "+5", " 5", "٣"])
def test_prune_audit_refuses_days_that_are_not_a_positive_whole_number(record, days):
    record(100)

    with pytest.raises(CommandError, match=r"--older-than must be a positive whole number") as error:
        prune("--older-than", days)

    assert "\n" not in str(error.value)
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize(
    "option",
    [
        ("--batch-size", "0"),
        ("--batch-size", "x"),
        ("--older-than", "99999999999"),
        ("--pause", "nan"),
        ("--pause", "inf"),
    ],
)
def test_prune_audit_refuses_other_bad_input_with_a_one_line_reason(record, option):
    record(100)

    with pytest.raises(CommandError) as error:
        prune(*option)

    assert "\n" not in str(error.value)
    assert AuditEvent.objects.count() == 1


def test_only_the_retention_path_deletes_events(record):
    record(100)

    with pytest.raises(TypeError):
        AuditEvent.objects.filter(detail="100 days old").delete()
    assert AuditEvent.objects.prune_oldest(created_before=timezone.now(), limit=10) == 1
    assert not AuditEvent.objects.exists()
