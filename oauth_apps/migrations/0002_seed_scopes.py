from __future__ import annotations

from django.db import migrations

SCOPES = [
    ("read:profile", "See your name and username"),
    ("write:studies", "Create and update studies you manage"),
    ("read:participants", "See the participants enrolled in your studies"),
    ("openid", "Confirm your identity (sign you in)"),
    ("profile", "See your name and username"),
    ("email", "See your email address"),
]


def seed_scopes(apps, schema_editor):
    Scope = apps.get_model("oauth_apps", "Scope")
    for name, description in SCOPES:
        Scope.objects.get_or_create(name=name, defaults={"description": description})


def remove_scopes(apps, schema_editor):
    apps.get_model("oauth_apps", "Scope").objects.filter(name__in=[name for name, _ in SCOPES]).delete()


class Migration(migrations.Migration):
    dependencies = [("oauth_apps", "0001_initial")]

    operations = [migrations.RunPython(seed_scopes, remove_scopes)]
