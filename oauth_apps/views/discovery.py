"""Authorization server metadata (RFC 8414) and OpenID discovery, built from what is mounted."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import NoReverseMatch, reverse

from core.http import json_get_only
from oauth_apps.keys import key_ring
from oauth_apps.scopes import active_scopes

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

# metadata field -> URL name in the oauth2_provider namespace; only mounted endpoints appear.
ENDPOINTS = {
    "authorization_endpoint": "authorize",
    "token_endpoint": "token",
    "jwks_uri": "jwks-info",
    "userinfo_endpoint": "user-info",
    "revocation_endpoint": "revoke-token",
    "introspection_endpoint": "introspect",
}


def endpoint_urls() -> dict[str, str]:
    urls = {}
    for field, name in ENDPOINTS.items():
        try:
            urls[field] = settings.OAUTH_ISSUER + reverse(f"oauth2_provider:{name}")
        except NoReverseMatch:
            continue
    return urls


def server_metadata_document() -> dict[str, Any]:
    urls = endpoint_urls()
    metadata: dict[str, Any] = {
        "issuer": settings.OAUTH_ISSUER,
        **urls,
        "scopes_supported": sorted(active_scopes()),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "name",
            "given_name",
            "family_name",
            "preferred_username",
            "updated_at",
            "email",
            "email_verified",
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
        # OIDC Discovery §3: request objects, by value or by reference, are refused.
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
    if "revocation_endpoint" in urls:
        metadata["revocation_endpoint_auth_methods_supported"] = CLIENT_AUTH_METHODS
    if "introspection_endpoint" in urls:
        metadata["introspection_endpoint_auth_methods_supported"] = CONFIDENTIAL_AUTH_METHODS
    return metadata


OPENAPI_PATH = settings.BASE_DIR / "docs" / "openapi.json"
JWKS_MAX_AGE_SECONDS = 300
METADATA_MAX_AGE_SECONDS = 300


@json_get_only
def jwks(request: HttpRequest) -> JsonResponse:
    """RFC 7517: every public key that may still verify a live token."""
    response = JsonResponse({"keys": key_ring.public_jwks()})
    response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@json_get_only
def server_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 8414 and OpenID Connect Discovery 1.0: one document, at both well-known paths."""
    response = JsonResponse(server_metadata_document())
    response["Cache-Control"] = f"public, max-age={METADATA_MAX_AGE_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@json_get_only
def openapi_description(request: HttpRequest) -> HttpResponse:
    """The OpenAPI description of the endpoints, kept in the repository as docs/openapi.json."""
    response = HttpResponse(OPENAPI_PATH.read_bytes(), content_type="application/json")
    response["Access-Control-Allow-Origin"] = "*"
    return response
