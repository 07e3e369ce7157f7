"""The API key as Gatekey knows it, and the rules that decide whether one may be used right now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from gatekey.domain.permissions import Permissions

KeyType = Literal["main", "personal", "partner"]
AuthMode = Literal["bearer", "hmac"]
KeyStatus = Literal["active", "revoked", "expired"]


@dataclass(frozen=True)
class RotationPolicy:
    interval_days: int
    grace_period_seconds: int


@dataclass
class ApiKey:
    key_id: str
    org_id: str
    type: KeyType
    label: str
    hint: str
    auth_mode: AuthMode
    permissions: Permissions
    created_at: datetime
    created_by: str
    secret_hash: str
    user_id: str | None = None
    revoked: bool = False
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    ip_allowlist: list[str] = field(default_factory=list)
    recoverable: bool = False
    rotation: RotationPolicy | None = None
    rotated_at: datetime | None = None
    # Counts rotations: decrypted secrets are remembered per (key id, secret version).
    secret_version: int = 1
    # HMAC and recoverable keys: the token encrypted with KMS, bound to key id and org id.
    sealed_secret: str | None = None
    # During a rotation's grace period the previous secret still works until this moment.
    previous_secret_hash: str | None = None
    previous_sealed_secret: str | None = None
    previous_secret_valid_until: datetime | None = None

    @property
    def keeps_sealed_secret(self) -> bool:
        """HMAC keys need their token to verify signatures; recoverable keys to reveal it."""
        return self.auth_mode == "hmac" or self.recoverable

    def status(self, now: datetime) -> KeyStatus:
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def in_grace_period(self, now: datetime) -> bool:
        """Whether the secret from before the last rotation still works."""
        return self.previous_secret_valid_until is not None and now < self.previous_secret_valid_until

    def secret_hashes_accepted(self, now: datetime) -> list[str]:
        """The current secret's hash, and the previous one while its grace period lasts."""
        hashes = [self.secret_hash]
        if self.previous_secret_hash and self.in_grace_period(now):
            hashes.append(self.previous_secret_hash)
        return hashes

    def sealed_secrets_accepted(self, now: datetime) -> list[tuple[int, str]]:
        """(secret version, sealed token) of the current secret, and of the previous one during its grace."""
        sealed = [(self.secret_version, self.sealed_secret)] if self.sealed_secret else []
        if self.previous_sealed_secret and self.in_grace_period(now):
            sealed.append((self.secret_version - 1, self.previous_sealed_secret))
        return sealed

    def allows_ip(self, source_ip: str) -> bool:
        if not self.ip_allowlist:
            return True
        import ipaddress  # only keys with an allowlist need it; spared from every cold start

        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in self.ip_allowlist)


class SecretVault(Protocol):
    """Keeps a key's token encrypted at rest, bound to the key and its org (KMS in every stage)."""

    def seal(self, token: str, key_id: str, org_id: str) -> str: ...

    def unseal(self, sealed: str, key_id: str, org_id: str) -> str: ...


def normalize_cidrs(cidrs: list[str]) -> list[str]:
    """Validated, canonical CIDRs (`10.0.0.1` becomes `10.0.0.1/32`); raises ValueError naming the bad one."""
    import ipaddress

    normalized = []
    for cidr in cidrs:
        try:
            normalized.append(str(ipaddress.ip_network(cidr, strict=False)))
        except ValueError as error:
            raise ValueError(f"'{cidr}' is not an IP address or CIDR range") from error
    return normalized
