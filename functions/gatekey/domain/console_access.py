"""How the org's people get into the console (DESIGN §12): passwords, invitations, sign-in and sessions.

A session is a key of type `session` of the person's user: the authorizer checks it as it checks any key (one
authorization path), its permissions follow the user's role, it ends after 12 hours or at sign-out (revoked:
refused from the next request), and it never appears among the org's API keys. Passwords are argon2id at OWASP's
cost. Repeated failed sign-ins of one (org, email) are slowed, the same for an email nobody has.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gatekey.domain.api_keys import ApiKey
from gatekey.domain.authority import Authority, InsufficientAuthorityError, require_cover
from gatekey.domain.clock import to_iso, utc_now
from gatekey.domain.directory import Directory, Organisation, User
from gatekey.domain.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    TooManyAttemptsError,
    UnauthenticatedError,
)
from gatekey.domain.events import EventPublisher, new_event
from gatekey.domain.hashing import Argon2Cost
from gatekey.domain.ids import is_id, mention
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, authority_of, is_person_admin
from gatekey.domain.permissions import Catalog, Level, Permissions
from gatekey.domain.tokens import Token
from gatekey.domain.views import user_view

SESSION_LIFETIME = timedelta(hours=12)
INVITATION_LIFETIME = timedelta(days=7)
PASSWORD_LENGTHS = (12, 128)
# At most five passwords checked per (org, email) within 15 minutes of the first: the sixth attempt waits out the
# rest of the 15 minutes. A sign-in that succeeds gives its attempt back (see `ConsoleAccess.sign_in`).
SIGN_IN_WINDOW = timedelta(minutes=15)
MAX_SIGN_IN_ATTEMPTS = 5
INVITATION_PAGE = "invitation.html"


def sign_in_refused() -> UnauthenticatedError:
    """Wrong email or password, said the same way for both, and for an email nobody has."""
    return UnauthenticatedError(
        "the email or the password is not right, or the email has no password yet", code="invalid_credentials"
    )


class PasswordStore(Protocol):
    """A user's password hash and pending invitation (storage/directory_repository.py)."""

    def set_invitation(self, org_id: str, user_id: str, token_sha256: str, expires_at: datetime) -> None: ...

    def accept_invitation(
        self, org_id: str, user_id: str, token_sha256: str, password_hash: str, now: datetime
    ) -> bool:
        """Set the password and end the invitation, both or neither: only if the invitation is this one and
        still valid at `now` (so a link works once, even when two tabs race)."""


@dataclass(frozen=True)
class AttemptWindow:
    """Sign-in attempts of one (org, email) counted in the window that ends at `ends_at`."""

    attempts: int
    ends_at: datetime


@dataclass(frozen=True)
class SignInRecord:
    """What sign-in reads for an (org, email): None where the org, the user or their password is missing."""

    org: Organisation | None
    user: User | None
    password_hash: str | None
    window: AttemptWindow | None  # the last window counted, ended or not


@dataclass(frozen=True)
class AttemptCount:
    """One attempt `counted` in the window ending at `window_ends_at`; or not counted, because that window holds
    its limit already, or because the org does not exist (`window_ends_at` None: nothing was written)."""

    counted: bool
    window_ends_at: datetime | None


def too_many_sign_ins(window_ends_at: datetime, now: datetime) -> TooManyAttemptsError:
    wait = max(1, math.ceil((window_ends_at - now).total_seconds()))
    return TooManyAttemptsError(f"too many sign-in attempts: try again in {wait} seconds", wait)


class SignInThrottle(Protocol):
    """Sign-in's reads and its attempt counter per (org, email) (storage/directory_repository.py). Each method
    makes the same storage calls whatever exists, so a sign-in's time tells nothing of which org or email exists."""

    def sign_in_record(self, org_id: str, email: str) -> SignInRecord: ...

    def count_attempt(
        self, org_id: str, email: str, seen: AttemptWindow | None, *, now: datetime, length: timedelta, limit: int
    ) -> AttemptCount:
        """Count one attempt atomically, only while the org exists: in the window `seen` (as read) if it is still
        open at `now` and holds fewer than `limit` attempts, else in a new window of `length` from `now`. When a
        parallel attempt changed the counter since it was read, decide again on what is stored."""

    def give_back_attempt(self, org_id: str, email: str, window_ends_at: datetime) -> None:
        """Uncount one attempt of the window ending at `window_ends_at`, if that window is still the stored one."""


@dataclass(frozen=True)
class Session:
    key: ApiKey
    token: Token  # the cookie's value, shown to the browser once
    user: User
    org: Organisation
    expires_at: datetime


@dataclass(frozen=True)
class Invitation:
    url: str
    expires_at: datetime


def session_permissions(user: User, catalog: Catalog) -> Permissions:
    """What a person may do in the console: an admin everything the catalog grants; a member manages their own
    keys (holding the provider's permissions so as to give them to their keys) and reads users, logs and events."""
    if user.role == "admin":
        return catalog.everything()
    provider = {resource.name: resource.max_level for resource in catalog.provider_resources}
    return {**provider, "keys": Level.WRITE, "users": Level.READ, "logs": Level.READ, "events": Level.READ}


def person_authority(user: User, catalog: Catalog) -> Authority:
    """What a person may do through the console: their role's standing and session permissions. An invitation for
    them, and a session of theirs, carry exactly this (DESIGN §5)."""
    return Authority(user.org_id, user.role, session_permissions(user, catalog))


def invitation_token(org_id: str, user_id: str, secret: str) -> str:
    return f"{org_id}.{user_id}.{secret}"


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleAccess:
    def __init__(
        self,
        directory: Directory,
        passwords: PasswordStore,
        throttle: SignInThrottle,
        keys: KeyLifecycle,
        *,
        password_cost: Argon2Cost,
        catalog: Catalog,
        console_url: str,
        events: EventPublisher,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._directory = directory
        self._passwords = passwords
        self._throttle = throttle
        self._keys = keys
        self._hasher = password_cost.hasher()
        self._catalog = catalog
        self._console_url = console_url.rstrip("/") + "/"
        self._events = events
        self._clock = clock
        # Checked instead when nobody has the email, so that an unknown email costs what a wrong password does.
        self._absent_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def sign_in(self, org_id: str, email: str, password: str) -> Session:
        """A session for the person with this email and password in the org; refused alike whatever is wrong.

        Every attempt is counted before its password is checked, in one conditional write, so parallel attempts
        from any number of containers check at most MAX_SIGN_IN_ATTEMPTS passwords per window. A wrong org, an
        unknown email and a wrong password cost the same: one read of the org and the email, one of the user,
        one counting write (which writes nothing for an org that does not exist) and one argon2 verification.
        """
        now = self._clock()
        record = self._throttle.sign_in_record(org_id, email)
        if record.window and record.window.ends_at > now and record.window.attempts >= MAX_SIGN_IN_ATTEMPTS:
            raise too_many_sign_ins(record.window.ends_at, now)  # as read: no need to write to refuse
        count = self._throttle.count_attempt(
            org_id, email, record.window, now=now, length=SIGN_IN_WINDOW, limit=MAX_SIGN_IN_ATTEMPTS
        )
        if not count.counted and count.window_ends_at is not None:
            raise too_many_sign_ins(count.window_ends_at, now)
        matches = self._password_matches(record.password_hash, password)  # argon2 runs whatever exists
        if not (count.counted and count.window_ends_at and record.org and record.user and matches):
            raise sign_in_refused()
        # The right password gives its attempt back rather than clearing the counter: clearing would hand someone
        # guessing in parallel a fresh five checks each time the person signs in. Failures stay counted for the
        # window, so no more than five wrong passwords are ever checked in it.
        self._throttle.give_back_attempt(org_id, email, count.window_ends_at)
        expires_at = now + SESSION_LIFETIME
        user = record.user
        key, token = self._keys.create_session(
            person_authority(user, self._catalog), user, session_permissions(user, self._catalog), expires_at=expires_at
        )
        return Session(key, token, user, record.org, expires_at)

    def sign_out(self, caller: Caller) -> None:
        """End the caller's session now: its cookie is refused from the next request."""
        if caller.key_type != "session":
            raise NotFoundError("no console session: this request was made with an API key")
        self._keys.end_session(caller)

    def invite(self, caller: Caller, user_id: str) -> Invitation:
        """A one-time link (7 days) where the user sets a password, for the inviting admin only (DESIGN §12): only a
        person who is an admin invites, and only people their own authority covers. A new invitation replaces the
        user's previous one; their password, if they have one, stays until the link is used."""
        user = self._directory.get_user(caller.org_id, user_id)
        if user is None:
            raise NotFoundError(f"no {mention('user', user_id, 'usr')} in this organisation")
        if not is_person_admin(caller, self._directory):
            raise InsufficientAuthorityError(
                "only a person who is an admin invites: sign in to the console as an admin, or use an admin's "
                "personal key (a main key never invites)",
                lacking=("an admin's console session or personal key",),
            )
        return self._invite(authority_of(caller, self._directory), user)

    def invite_as_operator(self, user: User) -> Invitation:
        """The provider's operator invites (`gatekey bootstrap`'s first admin): the operator covers everyone."""
        return self._invite(Authority.operator(), user)

    def _invite(self, inviter: Authority, user: User) -> Invitation:
        require_cover(inviter, person_authority(user, self._catalog), f"an invitation for '{user.user_id}'")
        now = self._clock()
        token = invitation_token(user.org_id, user.user_id, secrets.token_urlsafe(32))
        expires_at = now + INVITATION_LIFETIME
        self._passwords.set_invitation(user.org_id, user.user_id, _token_sha256(token), expires_at)
        url = f"{self._console_url}{INVITATION_PAGE}#token={token}"
        # The link travels sealed on the deployment's own bus (the provider's mailer unseals it), never to a webhook
        # or the events answer: an invitation is a credential, and those are tenant-controlled (DESIGN §5, §12).
        event = new_event(
            "user.invited",
            user.org_id,
            {**user_view(user), "invitation_expires_at": to_iso(expires_at)},
            now,
            secrets={"invitation_url": url},
        )
        self._events.announce(event)
        return Invitation(url, expires_at)

    def accept_invitation(self, token: str, password: str) -> User:
        """Set a password with an invitation's token; a wrong, used or expired token is refused alike."""
        low, high = PASSWORD_LENGTHS
        if not low <= len(password) <= high:
            raise InvalidRequestError(f"password: must be {low} to {high} characters", code="invalid_password")
        refused = UnauthenticatedError(
            "this invitation link is not valid: it was used already, has expired, or was replaced by a newer one; "
            "ask an admin for a new one",
            code="invitation_invalid",
        )
        parts = token.split(".")
        if len(parts) != 3 or not is_id(parts[0], "org") or not is_id(parts[1], "usr"):
            raise refused
        org_id, user_id, _ = parts
        user = self._directory.get_user(org_id, user_id)
        if user is None:
            raise refused
        accepted = self._passwords.accept_invitation(
            org_id, user_id, _token_sha256(token), self._hasher.hash(password), self._clock()
        )
        if not accepted:
            raise refused
        return user

    def set_password(self, user: User, password: str) -> None:
        """The founding admin's password (`gatekey serve`): set directly, without an invitation."""
        now = self._clock()
        token = invitation_token(user.org_id, user.user_id, secrets.token_urlsafe(32))
        self._passwords.set_invitation(user.org_id, user.user_id, _token_sha256(token), now + INVITATION_LIFETIME)
        if not self._passwords.accept_invitation(
            user.org_id, user.user_id, _token_sha256(token), self._hasher.hash(password), now
        ):
            raise ConflictError("the user changed while their password was set")

    def _password_matches(self, stored: str | None, password: str) -> bool:
        try:
            self._hasher.verify(stored or self._absent_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored is not None
