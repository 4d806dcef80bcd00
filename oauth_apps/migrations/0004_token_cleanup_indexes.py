"""Indexes that let cleartokens find expired rows without reading the whole token tables.

django-oauth-toolkit's tables have none on expiry or refresh-token revocation, so each
cleartokens batch was a sequential scan of a million rows. On PostgreSQL the indexes are
built CONCURRENTLY, so migrating a live server does not block token requests.
"""

from django.db import migrations

INDEXES = {
    "oauth_accesstoken_expires": "oauth2_provider_accesstoken (expires)",
    "oauth_refreshtoken_revoked": "oauth2_provider_refreshtoken (revoked) WHERE revoked IS NOT NULL",
    "oauth_refreshtoken_orphaned": "oauth2_provider_refreshtoken (id) WHERE revoked IS NULL AND access_token_id IS NULL",
    "oauth_grant_expires": "oauth2_provider_grant (expires)",
}


def create_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON {target}")


def drop_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("oauth_apps", "0003_consent_audit_event"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
