"""Rotating DJANGO_SECRET_KEY: the signing keys, encrypted under it, go on working through
DJANGO_SECRET_KEY_FALLBACKS and are re-encrypted under the new key (README, "Rotating the
secret key"); without a fallback the server says so at start-up."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import OperationalError

from oauth_apps import keys
from oauth_apps.checks import check_signing_keys_decrypt
from oauth_apps.keys import key_ring, signing_keys_reencrypt, signing_keys_reencrypt_at_start
from oauth_apps.models import SigningKey
from tests.oauth import USERINFO_URL

NEW_SECRET_KEY = "the-new-secret-key-after-rotation-0123456789-abcdefghijklmnopqrstuvwxyz"
JWKS_URL = "/v1/oauth/jwks"


@pytest.fixture
def token_before_rotation(oauth, public_app) -> str:
    return oauth.minted_tokens_for(public_app, scope="openid read:profile")["access_token"]


def rotate_secret_key(settings, *, keep_fallback: bool) -> None:
    """What an operator does, then a restart: the process forgets every key it had opened."""
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY] if keep_fallback else []
    settings.SECRET_KEY = NEW_SECRET_KEY
    key_ring.invalidate()


def test_with_the_old_key_as_fallback_the_server_goes_on_and_re_encrypts_its_keys(
    settings, oauth, public_app, client, token_before_rotation
):
    [stored] = SigningKey.objects.all()
    rotate_secret_key(settings, keep_fallback=True)

    assert signing_keys_reencrypt_at_start() is None

    jwks = client.get(JWKS_URL)
    assert jwks.status_code == 200
    assert [key["kid"] for key in jwks.json()["keys"]] == [stored.kid]
    assert oauth.bearer_get(USERINFO_URL, token_before_rotation).status_code == 200
    oauth.tokens_for(public_app, scope="openid read:profile")
    # Re-encrypted under the new key: the fallback can go.
    assert SigningKey.objects.get().private_key_encrypted != stored.private_key_encrypted
    settings.SECRET_KEY_FALLBACKS = []
    key_ring.invalidate()
    assert signing_keys_reencrypt() == 0
    assert client.get(JWKS_URL).status_code == 200
    assert oauth.bearer_get(USERINFO_URL, token_before_rotation).status_code == 200


def test_a_request_re_encrypts_a_key_the_start_up_pass_did_not_reach(settings, oauth, token_before_rotation):
    [stored] = SigningKey.objects.all()
    rotate_secret_key(settings, keep_fallback=True)  # and the database was down at start-up

    assert oauth.bearer_get(USERINFO_URL, token_before_rotation).status_code == 200

    assert SigningKey.objects.get().private_key_encrypted != stored.private_key_encrypted
    settings.SECRET_KEY_FALLBACKS = []
    assert signing_keys_reencrypt() == 0


def test_without_a_fallback_the_start_up_pass_stops_the_server_with_a_clear_message(settings, token_before_rotation):
    rotate_secret_key(settings, keep_fallback=False)

    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY_FALLBACKS") as raised:
        signing_keys_reencrypt_at_start()

    assert "DJANGO_SECRET_KEY" in str(raised.value)
    assert "Rotating the secret key" in str(raised.value)


def test_without_a_fallback_the_database_system_check_reports_an_error(settings, token_before_rotation):
    [stored] = SigningKey.objects.all()
    assert check_signing_keys_decrypt(None, databases=["default"]) == []
    rotate_secret_key(settings, keep_fallback=False)

    [error] = check_signing_keys_decrypt(None, databases=["default"])

    assert error.id == "oauth_apps.E001"
    assert stored.kid in error.msg
    assert "DJANGO_SECRET_KEY_FALLBACKS" in error.msg
    assert check_signing_keys_decrypt(None, databases=None) == []  # only with --database
    with pytest.raises(SystemCheckError, match=r"oauth_apps\.E001"):
        call_command("check", "--database", "default")


def test_without_a_fallback_a_request_fails_with_the_same_clear_message_in_the_log(
    settings, client, token_before_rotation, caplog
):
    rotate_secret_key(settings, keep_fallback=False)

    with (
        caplog.at_level(logging.ERROR, logger="oauth_apps.keys"),
        pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY_FALLBACKS"),
    ):
        client.get(JWKS_URL)

    assert any("DJANGO_SECRET_KEY_FALLBACKS" in record.getMessage() for record in caplog.records)


def test_the_start_up_pass_leaves_an_unreachable_database_to_the_requests(monkeypatch, caplog):
    def unreachable() -> list[SigningKey]:
        raise OperationalError("connection refused")

    monkeypatch.setattr(keys, "live_signing_keys", unreachable)

    with caplog.at_level(logging.WARNING, logger="oauth_apps.keys"):
        signing_keys_reencrypt_at_start()

    assert "database is unavailable" in caplog.text


PROJECT_ROOT = Path(__file__).resolve().parents[2]
START = "import config.wsgi"
START_AND_SIGN = "import config.wsgi; from oauth_apps.keys import key_ring; print(key_ring.active().kid)"


def run(code: list[str], database: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh process of this project against `database`, as gunicorn or an operator starts one."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "OAUTH_ISSUER": "https://auth.wetrials.test",
        "DATABASE_URL": f"sqlite:///{database}",
        **env,
    }
    return subprocess.run(
        [sys.executable, *code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.slow  # Django started in six processes
def test_the_server_process_refuses_to_start_without_the_fallback_and_starts_with_it(tmp_path):
    database = tmp_path / "db.sqlite3"
    old_key = "the-old-secret-key-" + "o" * 40

    not_migrated = run(["-c", START], database, DJANGO_SECRET_KEY=old_key)
    assert not_migrated.returncode == 0, not_migrated.stderr  # the requests will report it, not the start
    assert "database is unavailable" in not_migrated.stderr
    assert run(["manage.py", "migrate", "-v0"], database, DJANGO_SECRET_KEY=old_key).returncode == 0
    first_start = run(["-c", START_AND_SIGN], database, DJANGO_SECRET_KEY=old_key)
    assert first_start.returncode == 0, first_start.stderr
    kid = first_start.stdout.strip()

    without_fallback = run(["-c", START], database, DJANGO_SECRET_KEY=NEW_SECRET_KEY)
    assert without_fallback.returncode != 0
    assert "ImproperlyConfigured" in without_fallback.stderr
    assert "DJANGO_SECRET_KEY_FALLBACKS" in without_fallback.stderr
    with_fallback = run(
        ["-c", START_AND_SIGN],
        database,
        DJANGO_SECRET_KEY=NEW_SECRET_KEY,
        DJANGO_SECRET_KEY_FALLBACKS=f"{old_key}, another-old-key",
    )
    assert with_fallback.stdout.strip() == kid, with_fallback.stderr
    # That one start re-encrypted the key: the fallback can go.
    assert run(["-c", START_AND_SIGN], database, DJANGO_SECRET_KEY=NEW_SECRET_KEY).stdout.strip() == kid
