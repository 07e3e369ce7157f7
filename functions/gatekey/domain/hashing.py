"""argon2id hashing of API-key secrets, peppered, and the in-process memory that keeps a container from checking
the same (stored hash, presented secret) twice (DESIGN §3).

A secret carries 190 random bits: a slow hash adds nothing against guessing it. What the hash's cost decides is
how much work a request with a wrong or old secret makes the authorizer do, so the per-stage cost is small (see
`StageSettings.key_secret_argon2`). So that a small cost gives a table reader nothing either, the hash is taken
of the secret peppered with a key only the deployment's KMS can produce (HMAC-SHA256): without it, a stored hash
checks no guess at all. Human passwords (dashboard sign-in) are hashed elsewhere, at OWASP's cost.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

K = TypeVar("K")
V = TypeVar("V")
# Marks a hash of the peppered secret; a stored hash without it (from before peppering) is of the bare secret.
PEPPERED_PREFIX = "gkp1$"


@dataclass(frozen=True)
class Argon2Cost:
    time_cost: int
    memory_kib: int
    parallelism: int = 1

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism)


class SecretPepper(Protocol):
    """A key the deployment's KMS produces and no table holds (storage/sealing.py: KMS GenerateMac)."""

    def key(self) -> bytes: ...


class SecretVerifier:
    """Hashes new secrets; checks a presented secret against a stored hash, at most once per container.

    A secret that matched is remembered per stored hash as a keyed digest (the digest key is random per
    process, so the memory verifies nothing anywhere else): the next request with it, and any other secret
    presented for that hash, is a constant-time digest comparison instead of argon2. A secret that did not match
    is remembered too, so a client still on a rotated-out secret, or one repeating a forged one, pays argon2
    once. Both memories are keyed by the stored hash: a rotation (a new hash) misses them at once; revocation
    and expiry are decided from the freshly read item, never from here.
    """

    def __init__(self, cost: Argon2Cost, pepper: SecretPepper, max_entries: int = 10_000) -> None:
        self._hasher = cost.hasher()
        self._pepper = pepper
        self._max_entries = max_entries
        self._digest_key = secrets.token_bytes(32)
        self._matching: OrderedDict[str, bytes] = OrderedDict()  # stored hash -> digest of its secret
        self._not_matching: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._lock = threading.Lock()

    def hash(self, secret: str) -> str:
        return PEPPERED_PREFIX + self._hasher.hash(self._peppered(secret))

    def verify(self, stored_hash: str, secret: str) -> bool:
        digest = hmac.new(self._digest_key, secret.encode(), hashlib.sha256).digest()
        with self._lock:
            known = self._matching.get(stored_hash)
            if known is not None:
                return hmac.compare_digest(known, digest)
            if (stored_hash, digest) in self._not_matching:
                return False
        matches = self._argon2_matches(stored_hash, secret)
        with self._lock:
            if matches:
                _remember(self._matching, stored_hash, digest, self._max_entries)
            else:
                _remember(self._not_matching, (stored_hash, digest), None, self._max_entries)
        return matches

    def _argon2_matches(self, stored_hash: str, secret: str) -> bool:
        if stored_hash.startswith(PEPPERED_PREFIX):
            encoded, presented = stored_hash[len(PEPPERED_PREFIX) :], self._peppered(secret)
        else:
            encoded, presented = stored_hash, secret
        try:
            # The cost comes from the stored hash itself, so hashes made at another cost still verify.
            return self._hasher.verify(encoded, presented)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _peppered(self, secret: str) -> str:
        return hmac.new(self._pepper.key(), secret.encode(), hashlib.sha256).hexdigest()


def _remember(memory: OrderedDict[K, V], key: K, value: V, max_entries: int) -> None:
    """Keep the newest `max_entries`: a flood of forged secrets evicts old entries, it never grows the process."""
    memory[key] = value
    if len(memory) > max_entries:
        memory.popitem(last=False)
