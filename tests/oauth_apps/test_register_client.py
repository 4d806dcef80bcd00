"""`manage.py register_client`, exactly as the contract describes it."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from oauth_apps.models import Application


def register(*args: str) -> dict:
    out = StringIO()
    call_command("register_client", *args, stdout=out)
    return json.loads(out.getvalue())


def test_confidential_client_prints_its_secret_once_and_stores_a_hash(db):
    output = register(
        "--name",
        "Portal",
        "--type",
        "confidential",
        "--redirect-uri",
        "https://portal.example.com/cb",
        "--redirect-uri",
        "https://portal.example.com/cb2",
        "--scope",
        "read:profile",
        "--scope",
        "write:studies",
    )

    application = Application.objects.get(client_id=output["client_id"])
    assert output["client_secret"] and output["client_secret"] not in application.client_secret
    assert application.redirect_uris.split() == ["https://portal.example.com/cb", "https://portal.example.com/cb2"]
    assert sorted(application.allowed_scopes.values_list("name", flat=True)) == ["read:profile", "write:studies"]
    assert application.pkce_required


def test_public_client_has_no_secret(db):
    output = register(
        "--name",
        "SPA",
        "--type",
        "public",
        "--redirect-uri",
        "https://spa.example.com/cb",
        "--scope",
        "read:profile",
        "--allowed-origin",
        "https://spa.example.com",
    )

    assert "client_secret" not in output
    assert Application.objects.get(client_id=output["client_id"]).allowed_origins == "https://spa.example.com"


def test_service_account_needs_no_redirect_uri(db):
    output = register(
        "--name", "Export", "--type", "confidential", "--grant", "client_credentials", "--scope", "read:participants"
    )

    assert Application.objects.get(client_id=output["client_id"]).is_service_account


def test_optional_pkce_for_a_confidential_client(db):
    output = register(
        "--name",
        "Legacy",
        "--type",
        "confidential",
        "--redirect-uri",
        "https://legacy.example.com/cb",
        "--scope",
        "read:profile",
        "--pkce",
        "optional",
    )

    assert not Application.objects.get(client_id=output["client_id"]).pkce_required


PUBLIC = "--type public --redirect-uri https://example.com/cb"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ("--type public --redirect-uri http://example.com/cb --scope read:profile", "plain http"),
        ("--type public --redirect-uri https://*.example.com/cb --scope read:profile", "wildcard"),
        ("--type public --redirect-uri https://example.com/cb#frag --scope read:profile", "fragment"),
        ("--type public --redirect-uri https://user:pw@example.com/cb --scope read:profile", "user name"),
        ("--type public --scope read:profile", "at least one redirect URI"),
        ("--type public --grant client_credentials --scope read:profile", "confidential"),
        (f"{PUBLIC} --scope no:such", "Unknown scope"),
        (PUBLIC, "--scope"),
        (f"{PUBLIC} --scope read:profile --pkce optional", "public"),
        (f"{PUBLIC} --scope read:profile --allowed-origin https://example.com/path", "origin"),
        (f"{PUBLIC} --scope read:profile --allowed-origin http://spa.example.com", "https"),
        (f"{PUBLIC} --scope read:profile --allowed-origin https://*.example.com", "wildcard"),
    ],
)
def test_invalid_input_exits_with_a_one_line_reason_and_creates_nothing(db, args, reason):
    with pytest.raises(CommandError) as excinfo:
        call_command("register_client", "--name", "Bad", *args.split(), stdout=StringIO())

    assert reason in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert not Application.objects.exists()
