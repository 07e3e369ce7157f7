"""The users of an organisation (DESIGN §6): admins and members; deleting one deletes their personal keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Directory, Role, User
from gatekey.domain.errors import ForbiddenError, NotFoundError
from gatekey.domain.events import EventPublisher, EventType, new_event
from gatekey.domain.ids import mention, new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, admin_required, standing_of
from gatekey.domain.views import user_view


@dataclass(frozen=True)
class NewUser:
    email: str
    name: str
    role: Role = "member"


class UserAdministration:
    def __init__(
        self,
        directory: Directory,
        keys: KeyLifecycle,
        *,
        events: EventPublisher,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._directory = directory
        self._keys = keys
        self._events = events
        self._clock = clock

    def create(self, caller: Caller, request: NewUser) -> User:
        self._check_may_manage(caller)
        return self.add_to_org(caller.org_id, request)

    def add_to_org(self, org_id: str, request: NewUser) -> User:
        """A new user of `org_id`; the caller's right to add one was checked before."""
        user = User(
            user_id=new_id("usr"),
            org_id=org_id,
            email=request.email,
            name=request.name,
            role=request.role,
            created_at=self._clock(),
        )
        self._directory.create_user(user)
        self._announce("user.created", user)
        return user

    def list(
        self, caller: Caller, limit: int, after: dict[str, str] | None
    ) -> tuple[list[User], dict[str, str] | None]:
        self._check_not_partner(caller)
        return self._directory.list_users(caller.org_id, limit, after)

    def get(self, caller: Caller, user_id: str) -> User:
        self._check_not_partner(caller)
        user = self._directory.get_user(caller.org_id, user_id)
        if user is None:
            raise NotFoundError(f"no {mention('user', user_id, 'usr')} in this organisation")
        return user

    def delete(self, caller: Caller, user_id: str) -> User:
        """Delete the user and, first, every key of theirs: those tokens fail from the next request."""
        self._check_not_partner(caller)
        # A delete interrupted half-way left the user marked: finding it again lets a retry finish the job.
        user = self._directory.get_user(caller.org_id, user_id, including_deleted=True)
        if user is None:  # before the role check: another org's user id is a 404 for everyone
            raise NotFoundError(f"no {mention('user', user_id, 'usr')} in this organisation")
        self._check_may_manage(caller)
        self._directory.mark_user_deleted(user, self._clock())  # from now on no key can be created for them
        self._keys.delete_all(user.org_id, user_id=user.user_id)
        self.remove(user)
        return user

    def remove(self, user: User) -> None:
        """Delete a user whose keys are gone, and say so."""
        self._directory.delete_user(user)
        self._announce("user.deleted", user)

    def _announce(self, event_type: EventType, user: User) -> None:
        self._events.announce(new_event(event_type, user.org_id, user_view(user), self._clock()))

    def _check_may_manage(self, caller: Caller) -> None:
        standing = standing_of(caller, self._directory)
        self._check_not_partner(caller)
        if standing == "member":
            raise admin_required("add or delete users")

    @staticmethod
    def _check_not_partner(caller: Caller) -> None:
        if caller.key_type == "partner":
            raise ForbiddenError("a partner key manages users only in the orgs it created, under /v1/orgs")
