from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from oauth_apps.models import Application
from oauth_apps.services import application_register

GRANTS = {
    "authorization_code": Application.GRANT_AUTHORIZATION_CODE,
    "client_credentials": Application.GRANT_CLIENT_CREDENTIALS,
}


def one_line(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


class Command(BaseCommand):
    help = (
        "Register an OAuth client and print it as JSON. A confidential client's secret is "
        "printed this once; only its hash is stored."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--type", required=True, choices=["public", "confidential"], dest="client_type")
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        parser.add_argument("--scope", action="append", default=[], dest="scopes")
        parser.add_argument("--grant", choices=sorted(GRANTS), default="authorization_code")
        parser.add_argument("--pkce", choices=["required", "optional"], default="required")
        parser.add_argument("--allowed-origin", action="append", default=[], dest="allowed_origins")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["name"].strip():
            raise CommandError("--name must not be empty.")
        if not options["scopes"]:
            raise CommandError("At least one --scope is required.")
        if options["client_type"] == "public" and options["pkce"] == "optional":
            raise CommandError("--pkce optional applies to confidential clients only: public clients always use PKCE.")
        try:
            application, secret = application_register(
                name=options["name"].strip(),
                client_type=options["client_type"],
                redirect_uris=options["redirect_uris"],
                scopes=options["scopes"],
                grant_type=GRANTS[options["grant"]],
                pkce_required=options["pkce"] == "required",
                allowed_origins=options["allowed_origins"],
            )
        except ValidationError as exc:
            raise CommandError(one_line(exc)) from None
        output = {"client_id": application.client_id, "name": application.name, "client_type": application.client_type}
        if secret is not None:
            output["client_secret"] = secret
        self.stdout.write(json.dumps(output))
