"""How the org's people get into the console (DESIGN §12): passwords, invitations, sign-in and sessions.

A session is a key of type `session` of the person's user: the authorizer checks it as it checks any key (one
authorization path), its permissions follow the user's role, it ends after 12 hours or at sign-out (revoked:
refused from the next request), and it never appears among the org's API keys. Passwords are argon2id at OWASP's
cost. Repeated failed sign-ins of one (org, email) are slowed, the same for an email nobody has.
"""

from __future__ import annotations

import hashlib
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
# Five wrong passwords within 15 minutes and the (org, email) waits out the rest of the 15 minutes.
FAILED_SIGN_IN_WINDOW = timedelta(minutes=15)
MAX_FAILED_SIGN_INS = 5
INVITATION_PAGE = "invitation.html"


def sign_in_refused() -> UnauthenticatedError:
    """Wrong email or password, said the same way for both, and for an email nobody has."""
    return UnauthenticatedError(
        "the email or the password is not right, or the email has no password yet", code="invalid_credentials"
    )


class PasswordStore(Protocol):
    """A user's password hash and pending invitation (storage/directory_repository.py)."""

    def password_hash(self, org_id: str, user_id: str) -> str | None: ...

    def set_invitation(self, org_id: str, user_id: str, token_sha256: str, expires_at: datetime) -> None: ...

    def accept_invitation(
        self, org_id: str, user_id: str, token_sha256: str, password_hash: str, now: datetime
    ) -> bool:
        """Set the password and end the invitation, both or neither: only if the invitation is this one and
        still valid at `now` (so a link works once, even when two tabs race)."""


class SignInThrottle(Protocol):
    """Failed sign-ins per (org, email), forgotten after their window (storage/directory_repository.py)."""

    def recent_failures(self, org_id: str, email: str, now: datetime) -> tuple[int, datetime | None]:
        """How many failures since the window began, and when it ends (None without failures)."""

    def record_failure(self, org_id: str, email: str, now: datetime, window: timedelta) -> None: ...

    def clear(self, org_id: str, email: str) -> None: ...


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
        now = self._clock()
        failures, window_ends = self._throttle.recent_failures(org_id, email.lower(), now)
        if failures >= MAX_FAILED_SIGN_INS and window_ends is not None:
            wait = max(1, int((window_ends - now).total_seconds()) + 1)
            raise TooManyAttemptsError(f"too many failed sign-ins: try again in {wait} seconds", wait)
        user = self._directory.user_by_email(org_id, email) if is_id(org_id, "org") else None
        stored = self._passwords.password_hash(org_id, user.user_id) if user else None
        matches = self._password_matches(stored, password)  # argon2 runs whether or not anybody has the email
        if user is None or not matches:
            self._throttle.record_failure(org_id, email.lower(), now, FAILED_SIGN_IN_WINDOW)
            raise sign_in_refused()
        org = self._directory.get_org(org_id)
        if org is None:
            raise sign_in_refused()
        self._throttle.clear(org_id, email.lower())
        expires_at = now + SESSION_LIFETIME
        key, token = self._keys.create_session(
            person_authority(user, self._catalog), user, session_permissions(user, self._catalog), expires_at=expires_at
        )
        return Session(key, token, user, org, expires_at)

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
