"""What of the org's request log and events a caller may read (DESIGN §5): a member only what concerns keys they
may see, with the key routes' 404 for any other; admins and integration keys everything of their org."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from gatekey.domain.api_keys import KeyFilter
from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Directory
from gatekey.domain.events import DomainEvent, EventType
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, standing_of
from gatekey.domain.request_logs import LogFilter

# Keys read per page while collecting a member's own keys (the listing's own maximum).
_KEYS_PER_PAGE = 200
EventVisibility = Callable[[DomainEvent], bool]


class ScopedEventJournal(Protocol):
    """The event journal (storage/events_repository.py), read with a visibility rule applied before paging."""

    def list_for_org(
        self,
        org_id: str,
        since: datetime,
        event_type: str | None,
        limit: int,
        after: dict[str, str] | None,
        *,
        visible: EventVisibility | None = None,
    ) -> tuple[list[DomainEvent], dict[str, str] | None]:
        """The org's events recorded at or after `since`, newest first; only those `visible` keeps, pages full."""


class ActivityScope:
    """Narrows `GET /v1/logs` and `GET /v1/events` to what the caller may see of the org's keys. The rules of who
    sees which key stay in one place, KeyLifecycle: this asks it, never decides itself."""

    def __init__(self, keys: KeyLifecycle, directory: Directory) -> None:
        self._keys = keys
        self._directory = directory

    def _restricted(self, caller: Caller) -> bool:
        # Admins and integration keys read the whole org's activity (DESIGN §7); partner keys hold no
        # `logs` or `events`, so the permission check refuses them before this is asked.
        return standing_of(caller, self._directory) == "member"

    def visible_key_ids(self, caller: Caller) -> frozenset[str]:
        """Every key the caller may see, whatever its status (a revoked key's requests stay in its history)."""
        seen: set[str] = set()
        after: dict[str, str] | None = None
        while True:
            page = self._keys.list(caller, KeyFilter(), _KEYS_PER_PAGE, after)
            seen.update(key.key_id for key in page.keys)
            if page.after is None:
                return frozenset(seen)
            after = page.after

    def log_filter(self, caller: Caller, log_filter: LogFilter) -> LogFilter:
        """`log_filter` as the caller may read it: a member's filter names only their keys. A `key_id` of a key the
        caller may not see raises NotFoundError, exactly as `GET /v1/keys/{key_id}` would."""
        if not self._restricted(caller):
            return log_filter
        if log_filter.key_id is not None:
            self._keys.get(caller, log_filter.key_id)
            return log_filter
        return replace(log_filter, key_ids=self.visible_key_ids(caller))

    def event_visibility(self, caller: Caller) -> EventVisibility | None:
        """Which events the caller may read (None: all of the org's). A key.* event carries the key's view, whose
        `id` says which key it is about; other events are about no key."""
        if not self._restricted(caller):
            return None
        visible_keys = self.visible_key_ids(caller)
        return lambda event: not event.type.startswith("key.") or event.data.get("id") in visible_keys


class VisibleEventHistory:
    """`GET /v1/events` as the caller may see it: newest first, never older than the retention (DynamoDB's TTL
    deletes late, so reads filter for themselves), a member's without key.* events of keys they may not see."""

    def __init__(
        self,
        events: ScopedEventJournal,
        scope: ActivityScope,
        retention: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._events = events
        self._scope = scope
        self._retention = retention
        self._clock = clock

    def list(
        self, caller: Caller, event_type: EventType | None, limit: int, after: dict[str, str] | None
    ) -> tuple[list[DomainEvent], dict[str, str] | None]:
        return self._events.list_for_org(
            caller.org_id,
            self._clock() - self._retention,
            event_type,
            limit,
            after,
            visible=self._scope.event_visibility(caller),
        )
