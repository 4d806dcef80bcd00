"""Scope checks for views behind AccessTokenAuthentication."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from oauth_apps.contrib.rest_framework.authentication import AccessToken

if TYPE_CHECKING:
    from rest_framework.views import APIView


class InsufficientScope(exceptions.PermissionDenied):
    def __init__(self, scopes: frozenset[str]) -> None:
        self.scopes = scopes
        super().__init__(f"The token lacks the scope(s): {' '.join(sorted(scopes))}.")


class HasScope(BasePermission):
    """`permission_classes = [HasScope("read:profile")]`: every named scope must be granted."""

    def __init__(self, *scopes: str) -> None:
        self.scopes = frozenset(scopes)

    def __call__(self) -> HasScope:
        # DRF instantiates permission classes; an instance stands in for its own class.
        return self

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth
        if not isinstance(token, AccessToken):
            raise exceptions.NotAuthenticated()
        missing = self.scopes - token.scopes
        if missing:
            raise InsufficientScope(self.scopes)
        return True
