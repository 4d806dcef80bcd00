from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from oauth_apps.models import Application
from oauth_apps.services import application_register

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - the published demo account of `make run`
DEMO_CLIENT_NAME = "WeTrials Demo App"
DEMO_CLIENT_ID = "wetrials-demo"
DEMO_REDIRECT_URI = "http://127.0.0.1:8765/callback"
DEMO_SCOPES = ["openid", "profile", "email", "read:profile"]


class Command(BaseCommand):
    help = "Create (once) a demo user and a demo public client on loopback, and say how to try the flow."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        user, created_user = User.objects.get_or_create(
            username=DEMO_USERNAME,
            defaults={"first_name": "Dana", "last_name": "Demo", "email": "demo@example.org", "email_verified": True},
        )
        if created_user:
            user.set_password(DEMO_PASSWORD)
            user.save()
        application = Application.objects.filter(client_id=DEMO_CLIENT_ID).first()
        if application is None:
            application, _ = application_register(
                name=DEMO_CLIENT_NAME,
                client_type="public",
                redirect_uris=[DEMO_REDIRECT_URI],
                scopes=DEMO_SCOPES,
                client_id=DEMO_CLIENT_ID,
            )
        issuer = settings.OAUTH_ISSUER
        self.stdout.write(
            f"Demo user: {DEMO_USERNAME} / {DEMO_PASSWORD}\n"
            f"Demo client_id: {application.client_id} (public, PKCE S256, redirect {DEMO_REDIRECT_URI})\n"
            f"Open {issuer}/v1/oauth/authorize?response_type=code&client_id={application.client_id}"
            f"&redirect_uri={DEMO_REDIRECT_URI}&scope=openid+read:profile&state=xyz"
            "&code_challenge=<S256 challenge>&code_challenge_method=S256 (the README walks through it with curl)."
        )
