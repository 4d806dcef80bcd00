"""RS256 signing keys: encrypted at rest, shared through the database, cached per process.

Every server instance signs with the one active key and publishes every key that may still
verify a live token. A process re-reads the key list at most every
OAUTH_SIGNING_KEY_REFRESH_SECONDS, so a rotation reaches all instances within that time.

The private halves are encrypted under a key derived from DJANGO_SECRET_KEY. After the secret
key changes, DJANGO_SECRET_KEY_FALLBACKS still opens them, and each key is re-encrypted under
the new secret the first time a process opens it (README, "Rotating the secret key").
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import Error as DatabaseError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from jwt.algorithms import RSAAlgorithm

from oauth_apps.models import SigningKey

logger = logging.getLogger(__name__)

RSA_KEY_SIZE = 2048


def _derived_fernet(secret: str) -> Fernet:
    # A dedicated key derived from the secret key, so the raw secret never encrypts data.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"wetrials-auth", info=b"signing-key-encryption").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _fernets() -> list[Fernet]:
    """The current secret key's first, then those of SECRET_KEY_FALLBACKS."""
    return [_derived_fernet(secret) for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]


def _fernet() -> MultiFernet:
    """Encrypts under SECRET_KEY; decrypts under it or any of SECRET_KEY_FALLBACKS."""
    return MultiFernet(_fernets())


def undecryptable_message(kid: str) -> str:
    return (
        f"Signing key {kid} cannot be decrypted with DJANGO_SECRET_KEY or any key in "
        "DJANGO_SECRET_KEY_FALLBACKS. If DJANGO_SECRET_KEY was changed, put the previous value in "
        'DJANGO_SECRET_KEY_FALLBACKS and restart (README, "Rotating the secret key").'
    )


def _decrypt(key: SigningKey) -> tuple[bytes, str | None]:
    """The key's private PEM, and its ciphertext re-encrypted under SECRET_KEY when only a
    fallback opened it (else None). Raises ImproperlyConfigured when no key opens it."""
    fernets = _fernets()
    current = fernets[0]
    token = key.private_key_encrypted.encode()
    try:
        return current.decrypt(token), None
    except InvalidToken:
        pass
    try:
        rotated = MultiFernet(fernets).rotate(token)
    except InvalidToken:
        raise ImproperlyConfigured(undecryptable_message(key.kid)) from None
    return current.decrypt(rotated), rotated.decode()


def _save_reencrypted(key: SigningKey, ciphertext: str) -> None:
    # Only if the row still holds what was read: several instances may re-encrypt it at once,
    # and any one of their results opens under the current secret key.
    SigningKey.objects.filter(pk=key.pk, private_key_encrypted=key.private_key_encrypted).update(
        private_key_encrypted=ciphertext
    )
    logger.info("Signing key %s re-encrypted under the current DJANGO_SECRET_KEY.", key.kid)


def _without_key_ops(jwk: dict[str, Any]) -> dict[str, Any]:
    # RFC 7517 §4.3: `use` and `key_ops` should not be used together, and PyJWT's to_jwk adds
    # key_ops. Keys stored before it was dropped at creation still carry it in the database.
    return {name: value for name, value in jwk.items() if name != "key_ops"}


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint, used as the `kid`."""
    members = {name: public_jwk[name] for name in ("e", "kty", "n")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def signing_key_create(*, active: bool) -> SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_jwk = _without_key_ops(RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True))
    kid = _thumbprint(public_jwk)
    public_jwk.update(kid=kid, use="sig", alg="RS256")
    return SigningKey.objects.create(
        kid=kid,
        private_key_encrypted=_fernet().encrypt(pem).decode(),
        public_jwk=public_jwk,
        is_active=active,
    )


def signing_key_rotate() -> SigningKey:
    """Make a new key the active one; the old key keeps verifying until its tokens expire."""
    with transaction.atomic():
        SigningKey.objects.select_for_update().filter(is_active=True).update(is_active=False, retired_at=timezone.now())
        key = signing_key_create(active=True)
    key_ring.invalidate()
    return key


def signing_key_prune() -> int:
    """Delete retired keys that can no longer verify any live token. Returns how many."""
    deleted, _ = expired_signing_keys().delete()
    return deleted


def expired_signing_keys() -> QuerySet[SigningKey]:
    """Retired keys that can no longer verify any live token: what signing_key_prune deletes."""
    return SigningKey.objects.filter(is_active=False, retired_at__lte=timezone.now() - verification_window())


def active_signing_key() -> SigningKey | None:
    """The active key as the database holds it now (a process's key ring may lag), if any yet."""
    return SigningKey.objects.filter(is_active=True).first()


def verification_window() -> timedelta:
    """How long a retired key must stay published: the longest a token it signed can live."""
    return timedelta(seconds=settings.OAUTH_ACCESS_TOKEN_LIFETIME)


def live_signing_keys() -> list[SigningKey]:
    cutoff = timezone.now() - verification_window()
    return list(SigningKey.objects.filter(Q(is_active=True) | Q(retired_at__gt=cutoff)))


def signing_keys_reencrypt() -> int:
    """Open every live signing key and re-encrypt under DJANGO_SECRET_KEY each one that only a
    fallback opens, so the fallbacks can go. Returns how many were re-encrypted; raises
    ImproperlyConfigured, naming the settings to fix, when a key opens under none of them."""
    reencrypted = 0
    for key in live_signing_keys():
        _, ciphertext = _decrypt(key)
        if ciphertext is not None:
            _save_reencrypted(key, ciphertext)
            reencrypted += 1
    return reencrypted


def signing_keys_reencrypt_at_start() -> None:
    """The start-up pass (config/wsgi.py): a wrong secret key stops the process with a clear
    message instead of failing every request with a 500."""
    try:
        signing_keys_reencrypt()
    except DatabaseError as exc:
        # Unreachable or not yet migrated: the first request that needs a key opens it instead.
        logger.warning("Signing keys not checked at start-up: the database is unavailable (%s).", type(exc).__name__)


def undecryptable_signing_keys() -> list[str]:
    """The `kid`s of the live signing keys that no configured secret key opens (read-only)."""
    undecryptable = []
    for key in live_signing_keys():
        try:
            _decrypt(key)
        except ImproperlyConfigured:
            undecryptable.append(key.kid)
    return undecryptable


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    private_key: rsa.RSAPrivateKey


class KeyRing:
    """The process-wide view of the signing keys; thread-safe for threaded workers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._active: ActiveKey | None = None
        self._private_keys: dict[str, rsa.RSAPrivateKey] = {}
        self._public_jwks: list[dict[str, Any]] = []
        self._reuse_parsed = False

    def invalidate(self) -> None:
        """Reload on next use, opening every key again as a freshly started process would."""
        self._loaded_at = float("-inf")
        self._reuse_parsed = False

    def active(self) -> ActiveKey:
        self._refresh_if_stale()
        assert self._active is not None
        return self._active

    def public_jwks(self) -> list[dict[str, Any]]:
        self._refresh_if_stale()
        return self._public_jwks

    def verifying_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key of a live signing key, or None for an unknown or pruned `kid`."""
        self._refresh_if_stale()
        private_key = self._private_keys.get(kid)
        return private_key.public_key() if private_key is not None else None

    def _refresh_if_stale(self) -> None:
        if time.monotonic() - self._loaded_at < settings.OAUTH_SIGNING_KEY_REFRESH_SECONDS:
            return
        with self._lock:
            if time.monotonic() - self._loaded_at < settings.OAUTH_SIGNING_KEY_REFRESH_SECONDS:
                return
            self._load()

    def _load(self) -> None:
        keys = live_signing_keys()
        if not any(key.is_active for key in keys):
            keys.append(self._create_first_key())
        parsed = self._private_keys if self._reuse_parsed else {}
        private_keys = {}
        for key in keys:
            # Parsing an RSA key costs milliseconds: only new keys are parsed.
            private_keys[key.kid] = parsed.get(key.kid) or self._open(key)
        active = next(key for key in keys if key.is_active)
        self._private_keys = private_keys
        self._public_jwks = [_without_key_ops(key.public_jwk) for key in keys]
        self._active = ActiveKey(kid=active.kid, private_key=private_keys[active.kid])
        self._reuse_parsed = True
        self._loaded_at = time.monotonic()

    @staticmethod
    def _open(key: SigningKey) -> rsa.RSAPrivateKey:
        try:
            pem, ciphertext = _decrypt(key)
        except ImproperlyConfigured as exc:
            logger.error("%s", exc)
            raise
        if ciphertext is not None:
            # The start-up pass missed it (the database was down then): re-encrypt it now.
            _save_reencrypted(key, ciphertext)
        return serialization.load_pem_private_key(pem, password=None)

    @staticmethod
    def _create_first_key() -> SigningKey:
        try:
            with transaction.atomic():
                return signing_key_create(active=True)
        except IntegrityError:
            # Another instance created the first key at the same moment: use theirs.
            return SigningKey.objects.get(is_active=True)


key_ring = KeyRing()
