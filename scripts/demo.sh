#!/usr/bin/env bash
# `make demo`: WeTrials Auth (as `make run` serves it, on http://127.0.0.1:8000) and the
# Symptom Diary demo app (examples/demo_app, on http://127.0.0.1:8765) together.
# Open http://127.0.0.1:8765/ and sign in as demo / demo-password-123. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

export DJANGO_DEBUG=1 OAUTH_REQUIRE_HTTPS=0
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo
.venv/bin/python manage.py runserver --noreload 127.0.0.1:8000 &
for _ in $(seq 50); do
    curl -sf http://127.0.0.1:8000/healthz >/dev/null && break
    sleep 0.2
done
WETRIALS_ISSUER=http://127.0.0.1:8000 DEMO_CLIENT_ID=wetrials-demo DEMO_PORT=8765 \
    .venv/bin/python examples/demo_app/app.py &
wait -n
