"""RS256 signing keys: encrypted at rest, shared through the database, cached per process.

Every server instance signs with the one active key and publishes every key that may still
verify a live token. A process re-reads the key list at most every
OAUTH_SIGNING_KEY_REFRESH_SECONDS, so a rotation reaches all instances within that time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from jwt.algorithms import RSAAlgorithm

from oauth_apps.models import SigningKey

RSA_KEY_SIZE = 2048


def _fernet() -> Fernet:
    # A dedicated key derived from the secret key, so the raw secret never encrypts data.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"wetrials-auth", info=b"signing-key-encryption").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


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
    public_jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
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
    cutoff = timezone.now() - verification_window()
    deleted, _ = SigningKey.objects.filter(is_active=False, retired_at__lte=cutoff).delete()
    return deleted


def verification_window() -> timedelta:
    """How long a retired key must stay published: the longest a token it signed can live."""
    return timedelta(seconds=settings.OAUTH_ACCESS_TOKEN_LIFETIME)


def live_signing_keys() -> list[SigningKey]:
    cutoff = timezone.now() - verification_window()
    return list(SigningKey.objects.filter(Q(is_active=True) | Q(retired_at__gt=cutoff)))


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

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

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
        fernet = _fernet()
        private_keys = {}
        for key in keys:
            # Parsing an RSA key costs milliseconds: only new keys are parsed.
            private_keys[key.kid] = self._private_keys.get(key.kid) or serialization.load_pem_private_key(
                fernet.decrypt(key.private_key_encrypted.encode()), password=None
            )
        active = next(key for key in keys if key.is_active)
        self._private_keys = private_keys
        self._public_jwks = [key.public_jwk for key in keys]
        self._active = ActiveKey(kid=active.kid, private_key=private_keys[active.kid])
        self._loaded_at = time.monotonic()

    @staticmethod
    def _create_first_key() -> SigningKey:
        try:
            with transaction.atomic():
                return signing_key_create(active=True)
        except IntegrityError:
            # Another instance created the first key at the same moment: use theirs.
            return SigningKey.objects.get(is_active=True)


key_ring = KeyRing()
