"""Environment the test suite runs with; loaded as a plugin (-p) before Django reads its settings."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-that-is-long-enough-for-django-checks-0123456789")
os.environ.setdefault("OAUTH_ISSUER", "https://auth.wetrials.test")
# pytest-django tests on an in-memory SQLite database whatever file this names.
os.environ.setdefault("DATABASE_URL", "sqlite:///db.sqlite3")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
