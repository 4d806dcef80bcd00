"""Gunicorn settings read by `gunicorn config.wsgi` from this directory."""

from __future__ import annotations

import os

# Gunicorn believes X-Forwarded-Proto (and friends) from 127.0.0.1 out of the box, which would
# let a local caller pass plain HTTP off as HTTPS. The contract trusts the header only when
# DJANGO_TRUST_X_FORWARDED_PROTO=1 (Django then reads it through SECURE_PROXY_SSL_HEADER).
if os.environ.get("DJANGO_TRUST_X_FORWARDED_PROTO") != "1":
    secure_scheme_headers: dict[str, str] = {}
