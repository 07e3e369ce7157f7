"""argon2id hashing of key secrets, and the in-process cache that spares a warm authorizer from argon2."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gatekey.settings import StageSettings


def password_hasher(settings: StageSettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_cost_kib,
        parallelism=settings.argon2_parallelism,
    )


class SecretVerifier:
    """Checks a presented secret against a stored argon2id hash.

    A successful check is remembered per stored hash as a keyed digest of the secret (the digest key
    is random per process, so the cache holds nothing that verifies a secret anywhere else). The next
    request with the same secret against the same stored hash is a constant-time digest comparison
    instead of argon2. Because the cache is keyed by the stored hash, a rotation (new hash) misses it
    at once; revocation and expiry are decided from the freshly read item, never from this cache.
    """

    def __init__(self, hasher: PasswordHasher, max_entries: int = 10_000) -> None:
        self._hasher = hasher
        self._max_entries = max_entries
        self._digest_key = secrets.token_bytes(32)
        self._verified: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, stored_hash: str, secret: str) -> bool:
        digest = hmac.new(self._digest_key, secret.encode(), hashlib.sha256).digest()
        with self._lock:
            remembered = self._verified.get(stored_hash)
        if remembered is not None:
            return hmac.compare_digest(remembered, digest)
        try:
            self._hasher.verify(stored_hash, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        with self._lock:
            self._verified[stored_hash] = digest
            if len(self._verified) > self._max_entries:
                self._verified.popitem(last=False)
        return True
