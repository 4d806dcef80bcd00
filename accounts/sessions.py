"""When the person signed in to this browser session (OIDC Core §2 `auth_time`).

`User.last_login` is the latest sign-in anywhere, on any device; `auth_time`, `max_age` and
`prompt=login` are about the sign-in of the session making the request, so it is kept there.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

AUTH_TIME_SESSION_KEY = "wetrials_auth_time"


@receiver(user_logged_in)
def remember_sign_in_time(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[AUTH_TIME_SESSION_KEY] = int(time.time())


def session_auth_time(request: HttpRequest) -> int | None:
    """Seconds since the epoch when the signed-in person signed in to this session, or None
    when nobody is, or when the session predates this record: `last_login` can't stand in,
    since a later sign-in elsewhere moves it (the authorize view asks such a session to sign
    in again)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    recorded = request.session.get(AUTH_TIME_SESSION_KEY)
    return recorded if isinstance(recorded, int) else None
