"""Token families: what a refresh-token rotation must keep from the original authorization.

Every live family gets a row: it started when its oldest refresh token was issued, it grants
what its live access token carries, and its person signed in at their last sign-in.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import Min


def families_of_live_tokens(apps, schema_editor):
    RefreshToken = apps.get_model("oauth2_provider", "RefreshToken")
    TokenFamily = apps.get_model("oauth_apps", "TokenFamily")
    live = RefreshToken.objects.filter(revoked__isnull=True, access_token__isnull=False, token_family__isnull=False)
    started = dict(
        RefreshToken.objects.filter(token_family__in=live.values("token_family"))
        .values_list("token_family")
        .annotate(Min("created"))
    )
    for token in live.select_related("access_token", "user").iterator():
        TokenFamily.objects.get_or_create(
            family=token.token_family,
            defaults={
                "user_id": token.user_id,
                "application_id": token.application_id,
                "scope": token.access_token.scope,
                "auth_time": token.user.last_login or started[token.token_family],
                "created_at": started[token.token_family],
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("oauth_apps", "0005_audit_usernames"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="TokenFamily",
            fields=[
                ("family", models.UUIDField(primary_key=True, serialize=False)),
                ("scope", models.TextField(help_text="Space-separated scopes the person granted.")),
                ("auth_time", models.DateTimeField(help_text="When the person signed in for this authorization.")),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                (
                    "application",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="token_families",
                        to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={"verbose_name_plural": "token families"},
        ),
        migrations.RunPython(families_of_live_tokens, migrations.RunPython.noop),
    ]
