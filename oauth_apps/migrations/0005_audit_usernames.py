"""Audit events name their actor and user as text, so the trail survives an account's deletion.

The columns are added with a database default (no table rewrite on PostgreSQL, and servers
still running the previous release can go on inserting), then filled from the foreign keys
in short batches, each its own transaction: the audit table is written by every token
request, so no long transaction may hold its rows meanwhile.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import migrations, models, transaction
from django.db.models import Max, Min, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

BATCH = 10_000


def backfill_usernames(apps, schema_editor):
    AuditEvent = apps.get_model("oauth_apps", "AuditEvent")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    # Historical models don't carry USERNAME_FIELD; the field it names is what get_username() reads.
    username_field = get_user_model().USERNAME_FIELD
    db = schema_editor.connection.alias

    def username_of(fk: str):
        names = User._default_manager.using(db).filter(pk=OuterRef(fk)).values(username_field)[:1]
        return Coalesce(Subquery(names), Value(""))

    named = AuditEvent._default_manager.using(db).filter(Q(user__isnull=False) | Q(actor_user__isnull=False))
    bounds = named.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return
    for start in range(bounds["low"], bounds["high"] + 1, BATCH):
        with transaction.atomic(using=db):
            named.filter(pk__gte=start, pk__lt=start + BATCH).update(
                username=username_of("user_id"), actor_username=username_of("actor_user_id")
            )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("oauth_apps", "0004_token_cleanup_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="actor_username",
            field=models.CharField("actor's username", blank=True, db_default="", default="", max_length=150),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="username",
            field=models.CharField("user's username", blank=True, db_default="", default="", max_length=150),
        ),
        migrations.RunPython(backfill_usernames, migrations.RunPython.noop, elidable=True),
    ]
