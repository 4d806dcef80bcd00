from __future__ import annotations

import re
from typing import Any

from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.errors import InvalidClientError
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server as OpenIDServer
from oauthlib.openid.connect.core.exceptions import RequestNotSupported, RequestURINotSupported

# RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)) unpadded, 43 characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# OIDC Core §3.1.2.1: max_age is a number of seconds; ten digits outlast any session.
MAX_AGE = re.compile(r"[0-9]{1,10}")
# The grant's nonce column; every other parameter is either checked against the database
# (client, redirect URI, scopes), echoed (state), or parsed (claims, id_token_hint).
NONCE_MAX_LENGTH = 255
PARAMETER_MAX_LENGTH = 4096


def authorization_request_checks(request: Request) -> dict[str, Any]:
    """What oauthlib leaves unchecked in an authorization request, run once the client and
    its redirect URI are known, so each error goes back to the client (RFC 6749 §4.1.2.1)."""
    if "openid" in (request.scopes or []) and request.using_default_redirect_uri:
        # OIDC Core §3.1.2.1: redirect_uri is REQUIRED on an OpenID request.
        raise errors.InvalidRequestFatalError(
            description="An OpenID Connect request must name its redirect_uri.", request=request
        )
    # OIDC Core §6: request objects are not supported (discovery says so too).
    if getattr(request, "request", None) is not None:
        raise RequestNotSupported(request=request)
    if getattr(request, "request_uri", None) is not None:
        raise RequestURINotSupported(request=request)
    for name, value in [*request.uri_query_params, *(request.decoded_body or [])]:
        if len(value) > PARAMETER_MAX_LENGTH or any(ord(ch) < 0x20 or ch == "\x7f" for ch in value):
            raise errors.InvalidRequestError(
                description=f"The parameter {name!r} is too long or contains control characters.", request=request
            )
    if request.nonce is not None and len(request.nonce) > NONCE_MAX_LENGTH:
        raise errors.InvalidRequestError(
            description=f"nonce may be at most {NONCE_MAX_LENGTH} characters.", request=request
        )
    if request.code_challenge is not None and not S256_CHALLENGE.fullmatch(request.code_challenge):
        raise errors.InvalidRequestError(
            description="code_challenge must be 43 base64url characters (RFC 7636 §4.2).", request=request
        )
    if request.max_age is not None and not MAX_AGE.fullmatch(request.max_age):
        raise errors.InvalidRequestError(
            description="max_age must be a non-negative whole number of seconds.", request=request
        )
    return {}


class Server(OpenIDServer):
    """oauthlib's OpenID server cut down to what WeTrials offers.

    Response type `code` only; grants authorization_code, refresh_token and
    client_credentials; PKCE with S256 only, so `plain` (and a challenge without a method,
    which RFC 7636 reads as plain) is invalid_request.
    """

    def __init__(self, request_validator: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, *args, **kwargs)
        for grant in (self.auth_grant, self.openid_connect_auth.proxy_target):
            grant._code_challenge_methods = {"S256": code_challenge_method_s256}
            grant.custom_validators.pre_auth.append(authorization_request_checks)
        self._response_types = {"code": self.auth_grant_choice}
        self._grant_types = {
            "authorization_code": self.token_grant_choice,
            "refresh_token": self.refresh_grant,
            "client_credentials": self.credentials_grant,
        }

    def validate_introspect_request(self, request: Request) -> None:
        """RFC 7662 §2.1, for confidential clients (service accounts included) only: a public
        client has no secret to prove who it is, so it may not learn about tokens."""
        self._raise_on_bad_method(request)
        self._raise_on_bad_post_request(request)
        self._raise_on_missing_token(request)
        if not self.request_validator.authenticate_client(request):
            raise InvalidClientError(request=request)
