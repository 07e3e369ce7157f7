"""Creating, listing, editing, revoking and rotating API keys, with the rules of DESIGN §5-§7."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gatekey.domain.api_keys import ApiKey, AuthMode, KeyType, RotationPolicy, SecretVault
from gatekey.domain.clock import utc_now
from gatekey.domain.errors import ConflictError, ForbiddenError, InvalidRequestError
from gatekey.domain.hashing import SecretVerifier
from gatekey.domain.permissions import Permissions, exceeding
from gatekey.domain.tokens import Token, display_hint, new_token
from gatekey.storage.keys_repository import KeyFilter, KeysRepository

MAX_GRACE_PERIOD = timedelta(days=7)


@dataclass(frozen=True)
class Caller:
    """The key making a management call, as the authorizer vouched for it."""

    key_id: str
    org_id: str
    user_id: str | None
    key_type: str
    permissions: Permissions


@dataclass(frozen=True)
class NewKey:
    label: str
    type: KeyType = "main"
    auth_mode: AuthMode = "bearer"
    permissions: Permissions | None = None
    expires_at: datetime | None = None
    ip_allowlist: tuple[str, ...] = ()
    recoverable: bool = False
    rotation: RotationPolicy | None = None


@dataclass(frozen=True)
class KeyChanges:
    """Fields a PATCH may change; `None` leaves a field as it is, `clear_*` empties a nullable one."""

    label: str | None = None
    permissions: Permissions | None = None
    expires_at: datetime | None = None
    clear_expires_at: bool = False
    ip_allowlist: tuple[str, ...] | None = None
    rotation: RotationPolicy | None = None
    clear_rotation: bool = False


@dataclass(frozen=True)
class Page:
    keys: list[ApiKey]
    after: dict[str, str] | None


class KeyLifecycle:
    def __init__(
        self,
        keys: KeysRepository,
        verifier: SecretVerifier,
        token_prefix: str,
        vault: SecretVault,
        *,
        hmac_enabled: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._keys = keys
        self._verifier = verifier
        self._token_prefix = token_prefix
        self._vault = vault
        self._hmac_enabled = hmac_enabled
        self._clock = clock

    def create(self, caller: Caller, request: NewKey) -> tuple[ApiKey, Token]:
        now = self._clock()
        permissions = request.permissions or {}
        self._check_grantable(caller, permissions)
        self._check_future(request.expires_at, now)
        if request.auth_mode == "hmac" and not self._hmac_enabled:
            raise InvalidRequestError(
                "this deployment caches authorizer results, which only works for bearer keys; "
                "create the key with auth_mode 'bearer' or turn authorizer caching off",
                code="hmac_unavailable",
            )
        if request.rotation and not (request.recoverable or request.auth_mode == "hmac"):
            raise InvalidRequestError("rotation needs a recoverable or HMAC key", code="invalid_rotation")
        token = new_token(self._token_prefix)
        key = ApiKey(
            key_id=token.key_id,
            org_id=caller.org_id,
            type=request.type,
            user_id=None,
            label=request.label,
            hint=display_hint(token),
            auth_mode=request.auth_mode,
            permissions=permissions,
            created_at=now,
            created_by=caller.user_id or caller.key_id,
            secret_hash=self._verifier.hash(token.secret),
            expires_at=request.expires_at,
            ip_allowlist=list(request.ip_allowlist),
            recoverable=request.recoverable,
            rotation=request.rotation,
        )
        if key.keeps_sealed_secret:
            key.sealed_secret = self._vault.seal(token.value, key.key_id, key.org_id)
        self._keys.create(key)
        return key, token

    def get(self, caller: Caller, key_id: str) -> ApiKey:
        return self._keys.get_in_org(caller.org_id, key_id)

    def list(self, caller: Caller, key_filter: KeyFilter, limit: int, after: dict[str, str] | None) -> Page:
        keys, next_after = self._keys.list_for_org(caller.org_id, key_filter, self._clock(), limit, after)
        return Page(keys=keys, after=next_after)

    def update(self, caller: Caller, key_id: str, changes: KeyChanges) -> ApiKey:
        key = self._active_key(caller, key_id)
        now = self._clock()
        if changes.permissions is not None:
            self._check_grantable(caller, changes.permissions)
        if changes.expires_at is not None:
            self._check_future(changes.expires_at, now)
        rotation = None if changes.clear_rotation else (changes.rotation or key.rotation)
        if rotation and not (key.recoverable or key.auth_mode == "hmac"):
            raise InvalidRequestError("rotation needs a recoverable or HMAC key", code="invalid_rotation")
        updated = replace(
            key,
            label=changes.label if changes.label is not None else key.label,
            permissions=changes.permissions if changes.permissions is not None else key.permissions,
            expires_at=None if changes.clear_expires_at else (changes.expires_at or key.expires_at),
            ip_allowlist=list(changes.ip_allowlist) if changes.ip_allowlist is not None else key.ip_allowlist,
            rotation=rotation,
        )
        self._keys.save(updated, read_secret_version=key.secret_version)
        return updated

    def revoke(self, caller: Caller, key_id: str) -> ApiKey:
        key = self._keys.get_in_org(caller.org_id, key_id)
        if not key.revoked:
            self._keys.revoke(key, self._clock())
        return replace(key, revoked=True)

    def rotate(self, caller: Caller, key_id: str, grace_period_seconds: int) -> tuple[ApiKey, Token]:
        """A new secret for the same key id; the old one dies now, or after the grace period."""
        grace = timedelta(seconds=grace_period_seconds)
        if not timedelta(0) <= grace <= MAX_GRACE_PERIOD:
            raise InvalidRequestError("grace_period_seconds must be between 0 and 604800")
        key = self._active_key(caller, key_id)
        now = self._clock()
        token = new_token(self._token_prefix, key_id=key.key_id)
        rotated = replace(
            key,
            hint=display_hint(token),
            secret_hash=self._verifier.hash(token.secret),
            secret_version=key.secret_version + 1,
            sealed_secret=self._vault.seal(token.value, key.key_id, key.org_id) if key.keeps_sealed_secret else None,
            previous_secret_hash=key.secret_hash if grace else None,
            previous_sealed_secret=key.sealed_secret if grace else None,
            previous_secret_valid_until=now + grace if grace else None,
            rotated_at=now,
        )
        self._keys.save(rotated, read_secret_version=key.secret_version)
        return rotated, token

    def reveal(self, caller: Caller, key_id: str) -> tuple[ApiKey, str]:
        """The current token of an HMAC or recoverable key; other keys' tokens exist only as hashes."""
        key = self._active_key(caller, key_id)
        if key.sealed_secret is None:
            raise ConflictError(
                f"key '{key_id}' is neither recoverable nor HMAC: its token was shown once and cannot be revealed; "
                "rotate it for a new one",
                code="key_not_revealable",
            )
        return key, self._vault.unseal(key.sealed_secret, key.key_id, key.org_id)

    def _active_key(self, caller: Caller, key_id: str) -> ApiKey:
        key = self._keys.get_in_org(caller.org_id, key_id)
        status = key.status(self._clock())
        if status != "active":
            raise ConflictError(f"key '{key_id}' is {status}", code=f"key_{status}")
        return key

    @staticmethod
    def _check_grantable(caller: Caller, permissions: Permissions) -> None:
        too_much = exceeding(permissions, caller.permissions)
        if too_much:
            levels = ", ".join(f"{r}:{permissions[r].label}" for r in too_much)
            raise ForbiddenError(
                f"you cannot grant permissions you do not hold: {levels}", code="permission_exceeds_caller"
            )

    @staticmethod
    def _check_future(expires_at: datetime | None, now: datetime) -> None:
        if expires_at is not None and expires_at <= now:
            raise InvalidRequestError("expires_at must be in the future", code="invalid_expires_at")
