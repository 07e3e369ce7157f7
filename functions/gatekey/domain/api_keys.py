"""The API key as Gatekey knows it, and the rules that decide whether one may be used right now."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from gatekey.domain.permissions import Permissions

# A `session` is a person signed in to the console (domain/console_access.py): a key of their user, never listed.
KeyType = Literal["main", "personal", "partner", "session"]
AuthMode = Literal["bearer", "hmac"]
KeyStatus = Literal["active", "revoked", "expired"]
# key.expiring goes out this many days before a key expires (DESIGN §9), each once per expiry date.
EXPIRY_NOTICE_DAYS = (7, 1)


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
    # Days-ahead expiry notices already sent for the current `expires_at` (a new expiry date starts afresh).
    expiry_notices_sent: tuple[int, ...] = ()
    # The scheduler saw the key lapse and announced it (key.expired); it has no scheduled work left.
    marked_expired: bool = False
    # A plan of its own (DESIGN §13): it counts against its own API Gateway key, not its org's.
    plan: str | None = None

    @property
    def usage_subject(self) -> str:
        """Whose API Gateway key its requests count against: its own with a plan of its own, else its org's."""
        return self.key_id if self.plan else self.org_id

    @property
    def keeps_sealed_secret(self) -> bool:
        """HMAC keys need their token to verify signatures; recoverable keys to reveal it."""
        return self.auth_mode == "hmac" or self.recoverable

    def status(self, now: datetime) -> KeyStatus:
        if self.revoked:
            return "revoked"
        if self.marked_expired or (self.expires_at is not None and self.expires_at <= now):
            return "expired"
        return "active"

    @property
    def rotation_due_at(self) -> datetime | None:
        """When the rotation policy wants the next secret: its interval after the last rotation (or creation)."""
        if self.rotation is None:
            return None
        return (self.rotated_at or self.created_at) + timedelta(days=self.rotation.interval_days)

    def expiry_notices_due(self, now: datetime) -> list[int]:
        """The days-ahead notices not yet sent whose moment has come (before the expiry itself)."""
        if self.expires_at is None or self.expires_at <= now:
            return []
        return [
            days
            for days in EXPIRY_NOTICE_DAYS
            if days not in self.expiry_notices_sent and self.expires_at - timedelta(days=days) <= now
        ]

    @property
    def is_session(self) -> bool:
        return self.type == "session"

    def next_scheduled_at(self) -> datetime | None:
        """When the scheduler next has work on this key (a rotation, a notice, the expiry); None when never. A console
        session simply lapses: no notice, no event."""
        if self.revoked or self.marked_expired or self.is_session:
            return None
        moments = [self.rotation_due_at] if self.rotation_due_at else []
        if self.expires_at is not None:
            expires_at = self.expires_at
            moments += [
                expires_at - timedelta(days=days) for days in EXPIRY_NOTICE_DAYS if days not in self.expiry_notices_sent
            ]
            moments.append(expires_at)
        return min(moments, default=None)

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


@dataclass(frozen=True)
class KeyFilter:
    """Filters of `GET /v1/keys`."""

    type: str | None = None
    status: KeyStatus | None = None
    user_id: str | None = None


class KeyStore(Protocol):
    """Where keys are kept (storage/keys_repository.py): what the domain asks of it."""

    def get(self, key_id: str) -> ApiKey | None:
        """A strongly consistent read by id: the authorizer's one read."""

    def get_in_org(self, org_id: str, key_id: str) -> ApiKey:
        """The org's key; raises NotFoundError for a key of another org, like for a missing one."""

    def set_plan(self, key: ApiKey, plan: str | None) -> None:
        """Give the key a plan of its own, or (None) take it back to its org's; raises NotFoundError if it is gone."""

    def create(self, key: ApiKey) -> None:
        """Atomically with the org's key count; raises KeyLimitReachedError at the limit."""

    def save(self, key: ApiKey, read_secret_version: int) -> None:
        """Raises ConflictError if a rotation changed the key since it was read at `read_secret_version`."""

    def revoke(self, key: ApiKey, revoked_at: datetime) -> None: ...

    def delete(self, key: ApiKey) -> None: ...

    def record_use(self, key_id: str, used_at: datetime) -> None:
        """Moves last_used_at forward, never backwards."""

    def note_use(self, key_id: str, used_at: datetime) -> None:
        """Like record_use, but best effort: a failure is logged, not raised."""

    def all_of_org(self, org_id: str, user_id: str | None = None) -> Iterator[ApiKey]: ...

    def list_for_org(
        self, org_id: str, key_filter: KeyFilter, now: datetime, limit: int, after: dict[str, str] | None
    ) -> tuple[list[ApiKey], dict[str, str] | None]:
        """Newest first: up to `limit` keys and the position to continue from (None at the end)."""

    def due_for_schedule(self, now: datetime) -> Iterator[ApiKey]:
        """Keys whose next scheduled work (rotation, notice, expiry) is due at `now`."""

    def record_scheduled_change(self, before: ApiKey, after: ApiKey) -> bool:
        """Store `after` unless the key changed since `before` was read; whether it was stored."""


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
