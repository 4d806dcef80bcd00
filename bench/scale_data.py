"""Fill a migrated PostgreSQL database with a production-sized history: 100,000 users,
1,000,000 access tokens and 1,000,000 refresh tokens, most of them long expired, with the
consents and audit events such a history leaves. Used by bench/scale.py; see bench/README.md.

The rows are made by PostgreSQL itself (INSERT ... SELECT over generate_series), which is
minutes faster than the ORM; shapes and proportions follow what the server writes:

- 100,000 live sign-ins: a refresh token and its access token, expiring within the hour;
- 600,000 idle sign-ins: a refresh token whose access token expired 31 to 80 days ago
  (past the 30-day refresh lifetime: purge_tokens' to delete);
- 300,000 rotated refresh tokens, revoked 1 to 90 days ago (the old links of rotation
  chains, kept 30 days for replay detection; two thirds are past that);
- 300,000 service-account access tokens, expired 1 to 90 days ago;
- one consent per user and client (700,000), one audit event per token issued (1,000,000);
- a token family (the authorization every refresh reads) per live and idle sign-in (700,000).

As the server stores them (RFC 9700 token storage), the token column is blank and only the
SHA-256 checksum of the token is kept.
"""

# The SQL below is built from this module's own constants, never from input.
# ruff: noqa: S608

from __future__ import annotations

import sys
import time

import psycopg

USERS = 100_000
CLIENTS = 7  # each user has signed in to each of these
LIVE, IDLE, ROTATED, SERVICE = 100_000, 600_000, 300_000, 300_000

STATEMENTS = [
    (
        "users",
        f"""
        INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                                   is_staff, is_active, date_joined, email_verified, updated_at)
        SELECT '!', false, 'scale-' || g, 'Scale', 'User ' || g, 'scale-' || g || '@example.org',
               false, true, now() - interval '400 days', true, now() - interval '400 days'
        FROM generate_series(1, {USERS}) g
        """,
    ),
    (
        "sign-ins (access tokens of live and idle families)",
        f"""
        INSERT INTO oauth2_provider_accesstoken (token, token_checksum, expires, scope, application_id, user_id,
                                                 created, updated, resource)
        SELECT '', encode(sha256(convert_to(t.token, 'UTF8')), 'hex'), t.expires, 'openid read:profile',
               (SELECT id FROM scale_clients WHERE n = g % {CLIENTS}), (SELECT min(id) FROM scale_users) + g % {USERS},
               t.expires - interval '1 hour', t.expires - interval '1 hour', '[]'::jsonb
        FROM generate_series(0, {LIVE + IDLE - 1}) g,
             LATERAL (SELECT 'at' || md5('at' || g) AS token,
                             CASE WHEN g < {LIVE} THEN now() + (g % 3600) * interval '1 second'
                                  ELSE now() - interval '31 days' - (g - {LIVE}) * interval '7 seconds' END
                             AS expires) t
        """,
    ),
    (
        "refresh tokens of those sign-ins",
        """
        INSERT INTO oauth2_provider_refreshtoken (token, token_checksum, access_token_id, application_id, user_id,
                                                  created, updated, token_family, resource)
        SELECT '', encode(sha256(convert_to(md5('rt' || a.id), 'UTF8')), 'hex'), a.id,
               a.application_id, a.user_id, a.created, a.created, md5('family' || a.id)::uuid, '[]'::jsonb
        FROM oauth2_provider_accesstoken a WHERE a.scope = 'openid read:profile'
        """,
    ),
    (
        "token families of those sign-ins",
        """
        INSERT INTO oauth_apps_tokenfamily (family, user_id, application_id, scope, auth_time, created_at)
        SELECT md5('family' || a.id)::uuid, a.user_id, a.application_id, a.scope, a.created, a.created
        FROM oauth2_provider_accesstoken a WHERE a.scope = 'openid read:profile'
        """,
    ),
    (
        "rotated (revoked) refresh tokens",
        f"""
        INSERT INTO oauth2_provider_refreshtoken (token, token_checksum, application_id, user_id, created, updated,
                                                  revoked, token_family, resource)
        SELECT '', encode(sha256(convert_to(md5('old' || g), 'UTF8')), 'hex'),
               (SELECT id FROM scale_clients WHERE n = g % {CLIENTS}), (SELECT min(id) FROM scale_users) + g % {USERS},
               r.revoked - interval '1 hour', r.revoked, r.revoked, md5('family-old' || g)::uuid, '[]'::jsonb
        FROM generate_series(0, {ROTATED - 1}) g,
             LATERAL (SELECT now() - interval '1 day' - g * interval '26 seconds' AS revoked) r
        """,
    ),
    (
        "service-account access tokens",
        f"""
        INSERT INTO oauth2_provider_accesstoken (token, token_checksum, expires, scope, application_id, created,
                                                 updated, resource)
        SELECT '', encode(sha256(convert_to(t.token, 'UTF8')), 'hex'), t.expires, 'read:participants',
               (SELECT id FROM scale_clients WHERE n = 0), t.expires - interval '1 hour',
               t.expires - interval '1 hour', '[]'::jsonb
        FROM generate_series(0, {SERVICE - 1}) g,
             LATERAL (SELECT 'svc' || md5('svc' || g) AS token,
                             now() - interval '1 day' - g * interval '26 seconds' AS expires) t
        """,
    ),
    (
        "consents",
        f"""
        INSERT INTO oauth_apps_consent (scope, created_at, updated_at, application_id, user_id)
        SELECT 'openid read:profile', now() - interval '300 days', now() - interval '300 days', c.id, u.id
        FROM scale_users u CROSS JOIN scale_clients c WHERE c.n < {CLIENTS}
        """,
    ),
    (
        "audit events (tokens issued)",
        """
        INSERT INTO oauth_apps_auditevent (created_at, kind, outcome, actor, client_id, detail, application_id, user_id)
        SELECT a.created, 'tokens_issued', 'success', 'client', c.client_id, 'authorization_code',
               a.application_id, a.user_id
        FROM oauth2_provider_accesstoken a JOIN oauth_apps_application c ON c.id = a.application_id
        """,
    ),
]


def populate(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "CREATE TEMP TABLE scale_clients AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id"
            " FROM oauth_apps_application WHERE name LIKE 'Scale client %'"
        )
        clients = connection.execute("SELECT count(*) FROM scale_clients").fetchone()[0]
        if clients != CLIENTS:
            raise SystemExit(f"expected {CLIENTS} 'Scale client' applications, found {clients}")
        for name, sql in STATEMENTS:
            started = time.monotonic()
            if name == "users":
                connection.execute(sql)
                connection.execute(
                    "CREATE TEMP TABLE scale_users AS SELECT id FROM accounts_user WHERE username LIKE 'scale-%'"
                )
            else:
                connection.execute(sql)
            print(f"  {name}: {time.monotonic() - started:.1f} s", flush=True)
        started = time.monotonic()
        connection.execute("VACUUM ANALYZE")
        print(f"  VACUUM ANALYZE: {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    populate(sys.argv[1])
