"""How this server's own APIs (userinfo, /v1/me) authenticate a bearer token: the kit's
verification, and the token's row in this server's database."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.models import TokenUser

from oauth_apps.contrib.rest_framework.authentication import AccessToken, AccessTokenAuthentication
from oauth_apps.oauth2.tokens import token_checksum
from oauth_apps.selectors import access_token_by_checksum


class RevocationCheckedAccessTokenAuthentication(AccessTokenAuthentication):
    """Also refuses tokens revoked before they expired, by asking this server's database in
    the query that loads the token's user."""

    def token_user(self, raw_token: bytes, validated_token: AccessToken) -> Any:
        stored = access_token_by_checksum(checksum=token_checksum(raw_token))
        if stored is None or stored.is_expired():
            raise InvalidToken("The token has been revoked.")
        if validated_token.is_service_account:
            return TokenUser(validated_token)
        user = stored.user
        if user is None or str(user.pk) != validated_token["sub"] or not user.is_active:
            raise InvalidToken("The token's user does not exist or is inactive.")
        return user
