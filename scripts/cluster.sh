#!/usr/bin/env bash
# Two server instances on two loopback ports sharing one PostgreSQL and one Redis, as
# WeTrials runs behind a load balancer (`make cluster`). Each is gunicorn over TLS with a
# throwaway self-signed certificate and DJANGO_DEBUG=0; both use the first one's URL as
# the issuer, as they would the load balancer's. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

PORTS=(${CLUSTER_PORTS:-9001 9002})
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/wetrials_cluster}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/2}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

if [[ $DATABASE_URL == postgres://* ]]; then
    db_name=${DATABASE_URL##*/}
    psql "${DATABASE_URL%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1 \
        || psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE \"$db_name\""
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

export DJANGO_DEBUG=0 DATABASE_URL REDIS_URL
export DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')}
export OAUTH_ISSUER=${OAUTH_ISSUER:-https://127.0.0.1:${PORTS[0]}}
export DJANGO_ALLOWED_HOSTS=${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo

for port in "${PORTS[@]}"; do
    .venv/bin/gunicorn config.wsgi --bind "127.0.0.1:$port" --workers 2 \
        --certfile "$WORK/cert.pem" --keyfile "$WORK/key.pem" &
done
for port in "${PORTS[@]}"; do
    for _ in $(seq 50); do
        curl -sfk "https://127.0.0.1:$port/healthz" >/dev/null && break
        sleep 0.2
    done
    echo "instance: https://127.0.0.1:$port  ($(curl -sk "https://127.0.0.1:$port/readyz"))"
done
echo "issuer $OAUTH_ISSUER, database $DATABASE_URL, Redis $REDIS_URL; Ctrl-C stops both"
wait
