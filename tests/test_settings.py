"""Settings come from the environment and refuse bad values loudly."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str


def settings_error(**env: str) -> str:
    """Import the settings module in a fresh interpreter with `env`; return its error output."""
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stderr if result.returncode else ""


def test_secret_key_is_required_outside_debug():
    assert "DJANGO_SECRET_KEY is required" in settings_error(OAUTH_ISSUER="https://auth.example.com")


def test_database_url_is_required_outside_debug():
    error = settings_error(DJANGO_SECRET_KEY="x" * 50, OAUTH_ISSUER="https://auth.example.com")

    assert "ImproperlyConfigured: The environment variable DATABASE_URL is required when DJANGO_DEBUG=0" in error


def test_a_named_sqlite_file_is_accepted_outside_debug(tmp_path):
    production = {"DJANGO_SECRET_KEY": "x" * 50, "OAUTH_ISSUER": "https://auth.example.com"}

    assert settings_error(**production, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}") == ""


def test_issuer_is_required_outside_debug():
    error = settings_error(DJANGO_SECRET_KEY="x" * 50, DATABASE_URL="postgres://db.example/wetrials")

    assert "OAUTH_ISSUER is required" in error


def test_issuer_with_a_trailing_slash_is_refused():
    assert "must not end with a slash" in settings_error(DJANGO_DEBUG="1", OAUTH_ISSUER="https://auth.example.com/")


def test_debug_mode_has_development_defaults():
    assert settings_error(DJANGO_DEBUG="1") == ""


def test_bad_boolean_is_refused(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG", False)


def test_bad_integer_is_refused(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 1)


def test_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret_file))

    assert env_str("SOME_SECRET") == "from-a-file"


def test_unreadable_secret_file_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SOME_SECRET_FILE"):
        env_str("SOME_SECRET")


def test_previous_secret_keys_become_secret_key_fallbacks(tmp_path):
    keys_file = tmp_path / "fallbacks"
    keys_file.write_text("old-key-one,old-key-two\n")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)",
        ],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "1",
            "DJANGO_SECRET_KEY_FALLBACKS_FILE": str(keys_file),
        },
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "['old-key-one', 'old-key-two']"


def test_a_list_can_come_from_a_file_too(monkeypatch, tmp_path):
    monkeypatch.setenv("SOME_LIST", "a, b,,c")
    assert env_list("SOME_LIST", []) == ["a", "b", "c"]
    list_file = tmp_path / "list"
    list_file.write_text("d,e\n")
    monkeypatch.setenv("SOME_LIST_FILE", str(list_file))
    assert env_list("SOME_LIST", []) == ["d", "e"]
