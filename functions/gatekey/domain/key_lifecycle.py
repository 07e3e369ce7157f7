"""Creating, listing, editing, revoking and rotating API keys, with the rules of DESIGN §5-§7."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from gatekey.domain.api_keys import ApiKey, AuthMode, KeyFilter, KeyStore, KeyType, RotationPolicy, SecretVault
from gatekey.domain.authority import Authority, Standing, require_cover
from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Directory, User
from gatekey.domain.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from gatekey.domain.events import EventPublisher, EventType, new_event
from gatekey.domain.hashing import SecretVerifier
from gatekey.domain.ids import mention
from gatekey.domain.permissions import Catalog, Level, Permissions, grants
from gatekey.domain.tokens import Token, display_hint, new_token
from gatekey.domain.views import key_view

MAX_GRACE_PERIOD = timedelta(days=7)


@dataclass(frozen=True)
class Caller:
    """The key making a management call, as the authorizer vouched for it."""

    key_id: str
    org_id: str
    user_id: str | None
    key_type: str
    permissions: Permissions
    connection_id: str | None = None  # the connection the request's X-Connection-Token opened, if any


class PlanHooks(Protocol):
    """What keys' lives mean for plans (domain/plan_assignment.py)."""

    def ensure_org(self, org_id: str) -> None:
        """The org is on a plan before a key of it is made."""

    def forget_key(self, key: ApiKey) -> None:
        """A revoked or deleted key with a plan of its own loses its API Gateway key."""


# What a key may do beyond its permissions (DESIGN §6): an admin (an admin user's personal key or session, or a
# main key holding keys:write) manages every key of the org; an integration (any other main key) sees the
# org's personal keys; a member's personal key or session sees only its user's keys; a partner key only its orgs.
def _standing(
    key_type: str, org_id: str, user_id: str | None, permissions: Permissions, directory: Directory
) -> Standing:
    """A personal key's or a console session's standing is its user's role."""
    if key_type == "partner":
        return "partner"
    if key_type == "main":
        return "admin" if grants(permissions, "keys", Level.WRITE) else "integration"
    user = directory.get_user(org_id, user_id) if user_id else None
    return "admin" if user is not None and user.role == "admin" else "member"


def standing_of(caller: Caller, directory: Directory) -> Standing:
    return _standing(caller.key_type, caller.org_id, caller.user_id, caller.permissions, directory)


def authority_of(caller: Caller, directory: Directory) -> Authority:
    """The calling key's authority (DESIGN §5): its org, its standing, its permissions."""
    return Authority(caller.org_id, standing_of(caller, directory), caller.permissions)


def key_authority(key: ApiKey, directory: Directory) -> Authority:
    """The authority a key's token carries: what whoever holds it may do."""
    return Authority(
        key.org_id, _standing(key.type, key.org_id, key.user_id, key.permissions, directory), key.permissions
    )


def is_person_admin(caller: Caller, directory: Directory) -> bool:
    """An admin acting as a person: their console session or their personal key (never a main key)."""
    return caller.key_type in ("session", "personal") and standing_of(caller, directory) == "admin"


def admin_required(action: str) -> ForbiddenError:
    return ForbiddenError(
        f"only admins may {action}: an admin's personal key, or a main key holding keys:write",
        code="admin_required",
    )


@dataclass(frozen=True)
class NewKey:
    label: str
    type: KeyType = "main"
    user_id: str | None = None  # personal keys: whose key it is (defaults to the caller's user)
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
        keys: KeyStore,
        verifier: SecretVerifier,
        token_prefix: str,
        vault: SecretVault,
        *,
        directory: Directory,
        events: EventPublisher,
        catalog: Catalog,
        hmac_enabled: bool = True,
        plans: PlanHooks | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._keys = keys
        self._plans = plans
        self._directory = directory
        self._events = events
        self._catalog = catalog
        self._verifier = verifier
        self._token_prefix = token_prefix
        self._vault = vault
        self._hmac_enabled = hmac_enabled
        self._clock = clock

    def create(self, caller: Caller, request: NewKey) -> tuple[ApiKey, Token]:
        """A main or personal key in the caller's org, with at most the caller's permissions."""
        standing = standing_of(caller, self._directory)
        if standing == "partner":
            raise ForbiddenError("a partner key mints keys only through /v1/orgs/{org_id}/users/{user_id}/keys")
        if request.type == "partner":
            raise InvalidRequestError("partner keys are created by `gatekey bootstrap`", code="invalid_type")
        user_id = None
        if request.type == "main":
            if request.user_id is not None:
                raise InvalidRequestError("user_id: main keys belong to the org, not to a user")
            if standing != "admin":
                raise admin_required("create main keys")
        else:
            user_id = request.user_id or caller.user_id
            if user_id is None:
                raise InvalidRequestError("user_id: a main key creating a personal key must name its user")
            if user_id != caller.user_id:
                # Whether the user exists is answered first: another org's user id is a 404 for everyone.
                if self._directory.get_user(caller.org_id, user_id) is None:
                    raise NotFoundError(f"no {mention('user', user_id, 'usr')} in this organisation")
                if standing != "admin":
                    raise admin_required("create keys for other users")
        request = replace(request, user_id=user_id)
        self._require_cover(
            Authority(caller.org_id, standing, caller.permissions), caller.org_id, request, "the new key"
        )
        return self._mint(caller.org_id, request, created_by=caller.user_id or caller.key_id)

    def create_for_customer(
        self, partner: Caller, org_id: str, user_id: str, request: NewKey, created_by: str
    ) -> tuple[ApiKey, Token]:
        """A personal key a partner mints for a user of an org it created (the partner checked that): in those orgs
        it stands as their admin, holding the catalog, so it may grant anything but the partner-only resources."""
        request = replace(request, type="personal", user_id=user_id)
        holder = authority_of(partner, self._directory).over_customer_org(org_id, self._catalog.everything())
        self._require_cover(holder, org_id, request, "the new key")
        return self._mint(org_id, request, created_by=created_by)

    def _require_cover(self, holder: Authority, org_id: str, request: NewKey, what: str) -> None:
        minted = Authority(
            org_id,
            _standing(request.type, org_id, request.user_id, request.permissions or {}, self._directory),
            request.permissions or {},
        )
        require_cover(holder, minted, what)

    def create_session(
        self, person: Authority, user: User, permissions: Permissions, *, expires_at: datetime
    ) -> tuple[ApiKey, Token]:
        """A console session of `user`: a bearer key of theirs that no listing shows, outside the org's key limit,
        announced nowhere; it lapses at `expires_at` and is never rotated, revealed or edited. `person` is what
        the signed-in person may do: the session never carries more."""
        require_cover(person, Authority(user.org_id, person.standing, permissions), "the console session")
        now = self._clock()
        if self._plans:
            self._plans.ensure_org(user.org_id)
        token = new_token(self._token_prefix)
        session = ApiKey(
            key_id=token.key_id,
            org_id=user.org_id,
            type="session",
            user_id=user.user_id,
            label="console session",
            hint=display_hint(token),
            auth_mode="bearer",
            permissions=permissions,
            created_at=now,
            created_by=user.user_id,
            secret_hash=self._verifier.hash(token.secret),
            expires_at=expires_at,
        )
        self._keys.create(session)
        return session, token

    def end_session(self, caller: Caller) -> None:
        """Sign-out: the session is revoked, so its cookie fails from the next request."""
        session = self._keys.get_in_org(caller.org_id, caller.key_id)
        if session.is_session and not session.revoked:
            self._keys.revoke(session, self._clock())

    def create_partner_key(self, org_id: str, label: str, created_by: str) -> tuple[ApiKey, Token]:
        """The key a partner acts with: `orgs` and nothing else (only bootstrapping creates one)."""
        request = NewKey(label=label, type="partner", permissions=self._catalog.partner_permissions())
        return self._mint(org_id, request, created_by=created_by)

    def _mint(self, org_id: str, request: NewKey, created_by: str) -> tuple[ApiKey, Token]:
        now = self._clock()
        self._check_future(request.expires_at, now)
        if self._plans:
            self._plans.ensure_org(org_id)  # its requests count against the org's plan from the first
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
            org_id=org_id,
            type=request.type,
            user_id=request.user_id,
            label=request.label,
            hint=display_hint(token),
            auth_mode=request.auth_mode,
            permissions=request.permissions or {},
            created_at=now,
            created_by=created_by,
            secret_hash=self._verifier.hash(token.secret),
            expires_at=request.expires_at,
            ip_allowlist=list(request.ip_allowlist),
            recoverable=request.recoverable,
            rotation=request.rotation,
        )
        if key.keeps_sealed_secret:
            key.sealed_secret = self._vault.seal(token.value, key.key_id, key.org_id)
        self._keys.create(key)
        self.announce("key.created", key, now)
        return key, token

    def announce(self, event_type: EventType, key: ApiKey, now: datetime, **extra: object) -> None:
        """Tell the org's webhooks what happened to a key (its public view: never its secret)."""
        self._events.announce(new_event(event_type, key.org_id, {**key_view(key, now), **extra}, now))

    def own_key(self, caller: Caller) -> ApiKey:
        """The calling key itself, whatever its type (for `/v1/me`)."""
        return self._keys.get_in_org(caller.org_id, caller.key_id)

    def get(self, caller: Caller, key_id: str) -> ApiKey:
        """A key the caller may see; any other, in this org or another, is indistinguishable from a missing one."""
        key = self._keys.get_in_org(caller.org_id, key_id)
        if not self._may_see(standing_of(caller, self._directory), caller, key):
            raise NotFoundError(f"no key '{key_id}' in this organisation")
        return key

    def list(self, caller: Caller, key_filter: KeyFilter, limit: int, after: dict[str, str] | None) -> Page:
        """The keys the caller may see, narrowed by `key_filter`."""
        narrowed = self._visible_part(standing_of(caller, self._directory), caller, key_filter)
        if narrowed is None:
            return Page(keys=[], after=None)
        keys, next_after = self._keys.list_for_org(caller.org_id, narrowed, self._clock(), limit, after)
        return Page(keys=keys, after=next_after)

    def delete_all(self, org_id: str, user_id: str | None = None) -> int:
        """Revoke and delete every key of an org, or of one of its users; their tokens fail from the next request."""
        now = self._clock()
        deleted = 0
        for key in self._keys.all_of_org(org_id, user_id):
            if not key.revoked:
                self._keys.revoke(key, now)
                if not key.is_session:
                    self.announce("key.revoked", replace(key, revoked=True), now)
            if self._plans:
                self._plans.forget_key(key)
            self._keys.delete(key)
            deleted += int(not key.is_session)  # the keys the person had; their console sessions end too
        return deleted

    @staticmethod
    def _may_see(standing: Standing, caller: Caller, key: ApiKey) -> bool:
        if key.is_session:
            return False  # a console session is nobody's API key: not read, edited, rotated or revoked as one
        if standing == "admin":
            return True
        if standing == "integration":
            return key.type == "personal"
        if standing == "member":
            return key.type == "personal" and key.user_id == caller.user_id
        return False

    @staticmethod
    def _visible_part(standing: Standing, caller: Caller, key_filter: KeyFilter) -> KeyFilter | None:
        """`key_filter` narrowed to what the caller may see, or None when that leaves nothing."""
        if standing == "admin":
            return key_filter
        if standing == "partner" or key_filter.type not in (None, "personal"):
            return None
        if standing == "integration":
            return replace(key_filter, type="personal")
        if key_filter.user_id not in (None, caller.user_id):
            return None
        return replace(key_filter, type="personal", user_id=caller.user_id)

    def update(self, caller: Caller, key_id: str, changes: KeyChanges) -> ApiKey:
        key = self._active_key(caller, key_id)
        now = self._clock()
        if changes.permissions is not None and key.type == "partner":
            raise ConflictError("a partner key's permissions cannot be changed", code="partner_key_fixed")
        if changes.expires_at is not None:
            self._check_future(changes.expires_at, now)
        rotation = None if changes.clear_rotation else (changes.rotation or key.rotation)
        if rotation and not (key.recoverable or key.auth_mode == "hmac"):
            # The key as it is decides, not the request: it was created neither recoverable nor HMAC.
            raise ConflictError(
                f"key '{key_id}' is neither recoverable nor HMAC: a rotation policy needs a token Gatekey can reveal",
                code="invalid_rotation",
            )
        updated = replace(
            key,
            label=changes.label if changes.label is not None else key.label,
            permissions=changes.permissions if changes.permissions is not None else key.permissions,
            expires_at=None if changes.clear_expires_at else (changes.expires_at or key.expires_at),
            ip_allowlist=list(changes.ip_allowlist) if changes.ip_allowlist is not None else key.ip_allowlist,
            rotation=rotation,
        )
        if (updated.permissions, updated.expires_at, updated.ip_allowlist, updated.rotation) != (
            key.permissions,
            key.expires_at,
            key.ip_allowlist,
            key.rotation,
        ):
            # What the token may do, until when, from where: the caller must cover the key as it will be, so nobody
            # widens (or frees from its expiry or IP allowlist) a key broader than their own authority. A label is
            # only a name: renaming needs no more than seeing the key.
            self._require_cover_of_key(caller, updated)
        if updated.expires_at != key.expires_at:  # a new expiry date gets its own notices
            updated = replace(updated, expiry_notices_sent=())
        self._keys.save(updated, read_secret_version=key.secret_version)
        self.announce("key.updated", updated, now)
        return updated

    def revoke(self, caller: Caller, key_id: str) -> ApiKey:
        key = self.get(caller, key_id)
        if key.revoked:
            return key
        now = self._clock()
        self._keys.revoke(key, now)
        revoked = replace(key, revoked=True)
        if self._plans:
            self._plans.forget_key(key)
        self.announce("key.revoked", revoked, now)
        return revoked

    def rotate(self, caller: Caller, key_id: str, grace_period_seconds: int) -> tuple[ApiKey, Token]:
        """A new secret for the same key id; the old one dies now, or after the grace period."""
        grace = timedelta(seconds=grace_period_seconds)
        if not timedelta(0) <= grace <= MAX_GRACE_PERIOD:
            raise InvalidRequestError("grace_period_seconds must be between 0 and 604800")
        key = self._active_key(caller, key_id)
        if key.key_id != caller.key_id:  # a key may always rotate itself
            self._require_cover_of_key(caller, key)
        return self._rotate(key, grace, self._clock())

    def rotate_on_schedule(self, key: ApiKey, now: datetime) -> tuple[ApiKey, Token]:
        """The rotation a key's policy asked for (DESIGN §9): the new token stays sealed, so it can be revealed;
        the old one lives for the policy's grace period. Raises ConflictError if the key changed meanwhile."""
        assert key.rotation is not None
        return self._rotate(key, timedelta(seconds=key.rotation.grace_period_seconds), now, trigger="schedule")

    def _rotate(self, key: ApiKey, grace: timedelta, now: datetime, trigger: str = "request") -> tuple[ApiKey, Token]:
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
        self.announce("key.rotated", rotated, now, rotated_by=trigger)
        return rotated, token

    def reveal(self, caller: Caller, key_id: str) -> tuple[ApiKey, str]:
        """The current token of an HMAC or recoverable key; other keys' tokens exist only as hashes."""
        key = self._active_key(caller, key_id)
        self._require_cover_of_key(caller, key)  # before saying whether it could be revealed at all
        if key.sealed_secret is None:
            raise ConflictError(
                f"key '{key_id}' is neither recoverable nor HMAC: its token was shown once and cannot be revealed; "
                "rotate it for a new one",
                code="key_not_revealable",
            )
        token = self._vault.unseal(key.sealed_secret, key.key_id, key.org_id)
        self.announce("key.revealed", key, self._clock())
        return key, token

    def _active_key(self, caller: Caller, key_id: str) -> ApiKey:
        key = self.get(caller, key_id)
        status = key.status(self._clock())
        if status != "active":
            raise ConflictError(f"key '{key_id}' is {status}", code=f"key_{status}")
        return key

    def _require_cover_of_key(self, caller: Caller, key: ApiKey) -> None:
        require_cover(authority_of(caller, self._directory), key_authority(key, self._directory), f"key '{key.key_id}'")

    @staticmethod
    def _check_future(expires_at: datetime | None, now: datetime) -> None:
        if expires_at is not None and expires_at <= now:
            raise InvalidRequestError("expires_at must be in the future", code="invalid_expires_at")
