"""Redirect URI and origin rules (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §4.1)."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlsplit

from django.core.exceptions import ValidationError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]"})
# RFC 8252 §7.1: a private-use scheme is a reverse domain name, so it always contains a dot.
PRIVATE_USE_SCHEME = re.compile(r"^[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+$")


def _split(uri: str) -> SplitResult:
    if not uri or uri != uri.strip() or any(ch.isspace() or ord(ch) < 0x20 for ch in uri):
        raise ValidationError(f"{uri!r} is not a URI: it is empty or contains spaces or control characters.")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValidationError(f"{uri!r} is not a valid URI.") from None
    if not parts.scheme:
        raise ValidationError(f"{uri!r} is not an absolute URI: it has no scheme.")
    return parts


def _host(parts: SplitResult) -> str:
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc


def is_loopback(parts: SplitResult) -> bool:
    return parts.scheme == "http" and _host(parts) in LOOPBACK_HOSTS


def redirect_uri_validate(uri: str) -> None:
    """Raise ValidationError saying what is wrong with a redirect URI, if anything."""
    parts = _split(uri)
    if "*" in uri:
        raise ValidationError(f"{uri}: wildcards are not allowed; register each redirect URI exactly.")
    if parts.fragment or uri.endswith("#"):
        raise ValidationError(f"{uri}: a redirect URI must not contain a fragment (#...).")
    if "@" in parts.netloc:
        raise ValidationError(f"{uri}: a redirect URI must not contain a user name or password.")
    if parts.scheme == "https":
        if not parts.hostname:
            raise ValidationError(f"{uri}: an https redirect URI needs a host.")
        return
    if parts.scheme == "http":
        if is_loopback(parts):
            return
        raise ValidationError(
            f"{uri}: plain http is only allowed on the loopback interface "
            "(http://127.0.0.1 or http://[::1]); use https."
        )
    if PRIVATE_USE_SCHEME.match(parts.scheme):
        if parts.netloc:
            raise ValidationError(
                f"{uri}: a private-use scheme URI takes the form {parts.scheme}:/path, without a host."
            )
        return
    raise ValidationError(
        f"{uri}: the scheme {parts.scheme!r} is not allowed; use https, loopback http, "
        "or a reverse-domain private-use scheme such as com.example.app:/callback."
    )


# What the authorization endpoint adds to a redirect URI (RFC 6749 §4.1.2, §4.1.2.1, RFC 9207).
AUTHORIZATION_RESPONSE_PARAMETERS = frozenset({"code", "state", "error", "error_description", "error_uri", "iss"})


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact string match, except that a loopback redirect may use any port (RFC 8252 §7.3)."""
    if registered == requested:
        return True
    try:
        reg, req = _split(registered), _split(requested)
    except ValidationError:
        return False
    if "@" in req.netloc:
        return False  # user info, refused at registration, is refused at request time too
    if not (is_loopback(reg) and is_loopback(req)):
        return False
    return (reg.scheme, _host(reg), reg.path, reg.query) == (
        req.scheme,
        _host(req),
        req.path,
        req.query,
    ) and not req.fragment


def redirect_target_matches(registered: str, target: str) -> bool:
    """Whether `target`, a redirect the authorization endpoint is about to send, is `registered`
    with only authorization-response parameters appended to its query."""
    try:
        reg, tgt = _split(registered), _split(target)
    except ValidationError:
        return False
    query, registered_query = parse_qsl(tgt.query, keep_blank_values=True), parse_qsl(reg.query, keep_blank_values=True)
    appended = query[len(registered_query) :]
    if query[: len(registered_query)] != registered_query or tgt.fragment:
        return False
    if any(name not in AUTHORIZATION_RESPONSE_PARAMETERS for name, _ in appended):
        return False
    return redirect_uri_matches(reg._replace(query="").geturl(), tgt._replace(query="").geturl())


def origin_validate(origin: str) -> None:
    parts = _split(origin)
    if "*" in origin:
        raise ValidationError(f"{origin}: wildcards are not allowed.")
    if parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
        raise ValidationError(f"{origin}: an origin is scheme://host[:port], without a path.")
    if "@" in parts.netloc or not parts.hostname:
        raise ValidationError(f"{origin}: an origin needs a host and no user name or password.")
    if parts.scheme == "https" or is_loopback(parts):
        return
    raise ValidationError(f"{origin}: origins must use https (plain http only on 127.0.0.1 or [::1]).")
