"""Bench only: a code exchange's work with no OAuth library around it.

`POST /bench/code-exchange-work` does what the token endpoint does for a confidential
client's code exchange, written straight into a Django view: the client lookup and secret
check, the rate-limit round trip, the locked grant read, the PKCE and redirect URI checks,
two RS256 signatures, the access- and refresh-token inserts, the grant delete and the audit
row, in one transaction. No validation of anything else, no error handling: its rate is what
the token endpoint would reach if oauthlib's and DOT's machinery cost nothing. The benchmark
settings mount it beside the project's own URLs (bench/settings_*.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from datetime import UTC, datetime

import jwt
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from accounts.claims import user_claims
from core import ratelimits
from core.ratelimits import Charge, limits_charge
from oauth_apps.audit import Actor, Kind, audit_record
from oauth_apps.keys import key_ring
from oauth_apps.oauth2.oauth2_validators import OAuth2Validator
from oauth_apps.oauth2.tokens import authorization_code_family
from oauth_apps.selectors import application_by_client_id, grant_locked_by_code, token_family_authorization
from oauth_apps.services import access_token_insert, grant_delete, refresh_token_insert


def signed(claims: dict, token_type: str) -> str:
    key = key_ring.active()
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": token_type})


@csrf_exempt
def code_exchange_work(request: HttpRequest) -> HttpResponse:
    client_id, secret = base64.b64decode(request.headers["Authorization"].split()[1]).decode().split(":", 1)
    code, verifier = request.POST["code"], request.POST["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    with transaction.atomic():
        client = application_by_client_id(client_id=client_id)
        limits_charge(
            Charge(ratelimits.CLIENT_AUTH_FAILURES_PER_IP, request.META["REMOTE_ADDR"], look_only=True),
            Charge(ratelimits.TOKEN, client_id),
        )
        grant = grant_locked_by_code(code=code)
        if not (
            OAuth2Validator()._client_secret_matches(client, secret)
            and grant.code_challenge == challenge
            and grant.redirect_uri == request.POST["redirect_uri"]
        ):
            return HttpResponseBadRequest()
        authorization = token_family_authorization(family=authorization_code_family(code))
        scopes, now = authorization.current_scopes, int(time.time())
        claims = {
            **user_claims(user=grant.user, scopes=scopes),
            "iss": settings.OAUTH_ISSUER,
            "sub": str(grant.user_id),
            "iat": now,
            "exp": now + settings.OAUTH_ACCESS_TOKEN_LIFETIME,
        }
        access = signed(
            {
                **claims,
                "aud": settings.OAUTH_AUDIENCE,
                "client_id": client_id,
                "scope": grant.scope,
                "jti": secrets.token_urlsafe(16),
            },
            "at+jwt",
        )
        id_token = signed({**claims, "aud": client_id, "auth_time": int(authorization.auth_time.timestamp())}, "JWT")
        refresh = secrets.token_urlsafe(48)
        access_row = access_token_insert(
            user=grant.user,
            application=client,
            scope=grant.scope,
            expires=datetime.fromtimestamp(claims["exp"], tz=UTC),
            token=access,
        )
        refresh_token_insert(
            user=grant.user, application=client, access_token=access_row, token_family=uuid.uuid4(), token=refresh
        )
        grant_delete(grant=grant)
        audit_record(Kind.TOKENS_ISSUED, actor=Actor.CLIENT, application=client, user=grant.user)
    body = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": settings.OAUTH_ACCESS_TOKEN_LIFETIME,
        "refresh_token": refresh,
        "id_token": id_token,
        "scope": grant.scope,
    }
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path("bench/code-exchange-work", code_exchange_work),
    path("", include("config.urls")),
]
handler500 = "core.views.server_error"
