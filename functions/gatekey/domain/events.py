"""Domain events (DESIGN §8): their types and envelope, and publishing them to the journal and the bus.

An event's secret fields (connection.created's `connection_token`) are sealed with KMS before the event
leaves the process: the journal behind `GET /v1/events` and the EventBridge bus only ever hold the
ciphertext, and only webhook delivery unseals it, to put it in the signed POST. A credential (user.invited's
`invitation_url`) is for the deployment's own bus only: sealed there for the provider's mailer, never journaled,
never delivered to a webhook (DESIGN §5: no tenant-controlled destination receives a credential).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

from gatekey.domain.clock import from_iso, to_iso, utc_now
from gatekey.domain.ids import new_id
from gatekey.domain.tokens import BASE62_ALPHABET, KEY_ID_LENGTH

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

EventType = Literal[
    "key.created",
    "key.updated",
    "key.rotated",
    "key.revoked",
    "key.revealed",
    "key.expiring",
    "key.expired",
    "user.created",
    "user.invited",
    "user.deleted",
    "connection.created",
    "connection.deleted",
    "plan.changed",
    "quota.exhausted",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
# Secret fields that only the deployment's own bus carries (sealed, for the provider's mailer to unseal with KMS
# under `event_secret_context`): the journal drops them and webhook delivery never reveals them.
BUS_ONLY_SECRETS = frozenset({"invitation_url"})
EVERY_EVENT_TYPE = "*"  # a webhook subscribed to this gets every type, present and future


@dataclass(frozen=True)
class DomainEvent:
    event_id: str
    type: EventType
    org_id: str
    created_at: datetime
    data: Mapping[str, Any]
    # Secret fields of `data`, in plaintext: held in memory only, sealed by the publisher.
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    # The same fields sealed with KMS: what the journal stores and the bus carries.
    sealed: Mapping[str, str] = field(default_factory=dict, repr=False)

    def envelope(self, revealed: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The §8 envelope; secret fields only when `revealed` gives them (webhook delivery)."""
        return {
            "id_event": self.event_id,
            "type": self.type,
            "created_at": to_iso(self.created_at),
            "org_id": self.org_id,
            "data": {**self.data, **(revealed or {})},
        }

    def detail(self) -> dict[str, Any]:
        """The envelope with the sealed secret fields beside it: what leaves the process, never a plaintext secret."""
        if self.secrets:
            raise ValueError("an event's secrets must be sealed before it leaves the process")
        return {**self.envelope(), "sealed_data": dict(self.sealed)}

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> DomainEvent:
        event_type = detail["type"]
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        return cls(
            event_id=detail["id_event"],
            type=event_type,
            org_id=detail["org_id"],
            created_at=from_iso(detail["created_at"]),
            data=dict(detail["data"]),
            sealed=dict(detail.get("sealed_data") or {}),
        )


def new_event(
    event_type: EventType,
    org_id: str,
    data: Mapping[str, Any],
    at: datetime,
    *,
    secrets: Mapping[str, str] | None = None,
    event_id: str | None = None,
) -> DomainEvent:
    return DomainEvent(
        event_id=event_id or new_id("evt"),
        type=event_type,
        org_id=org_id,
        created_at=at,
        data=dict(data),
        secrets=dict(secrets or {}),
    )


def event_id_for(*facts: str) -> str:
    """The same `evt_…` id for the same facts: a scheduled notice replayed or run twice is one event, which
    the journal stores once and webhook delivery sends once."""
    number = int.from_bytes(hashlib.sha256("\0".join(facts).encode()).digest(), "big")
    body = []
    for _ in range(KEY_ID_LENGTH):
        number, digit = divmod(number, len(BASE62_ALPHABET))
        body.append(BASE62_ALPHABET[digit])
    return "evt_" + "".join(body)


def event_secret_context(event: DomainEvent) -> dict[str, str]:
    """A sealed event field decrypts only for that event of that org."""
    return {"purpose": "event-secret", "event_id": event.event_id, "org_id": event.org_id}


class EventJournal(Protocol):
    """Keeps events for `GET /v1/events` until `expires_at` (storage/events_repository.py)."""

    def record(self, event: DomainEvent, expires_at: datetime) -> None: ...

    def list_for_org(
        self, org_id: str, since: datetime, event_type: str | None, limit: int, after: dict[str, str] | None
    ) -> tuple[list[DomainEvent], dict[str, str] | None]:
        """The org's events recorded at or after `since`, newest first."""


class EventBus(Protocol):
    """Carries events to their consumers (webhook delivery)."""

    def put(self, event: DomainEvent) -> None: ...


class Sealer(Protocol):
    def seal(self, plaintext: str, context: dict[str, str]) -> str: ...

    def unseal(self, sealed: str, context: dict[str, str]) -> str: ...


class EventPublisher:
    def __init__(self, journal: EventJournal, bus: EventBus, sealer: Sealer, retention: timedelta) -> None:
        self._journal = journal
        self._bus = bus
        self._sealer = sealer
        self._retention = retention

    def publish(self, event: DomainEvent) -> None:
        """Seal, record, then put on the bus; raises StorageUnavailableError when any step fails."""
        context = event_secret_context(event)
        sealed = replace(
            event,
            secrets={},
            sealed={name: self._sealer.seal(value, context) for name, value in event.secrets.items()},
        )
        journaled = replace(sealed, sealed={k: v for k, v in sealed.sealed.items() if k not in BUS_ONLY_SECRETS})
        self._journal.record(journaled, sealed.created_at + self._retention)
        self._bus.put(sealed)

    def announce(self, event: DomainEvent) -> None:
        """Publish what a request changed, without failing the request: the change is done and stays done.
        A failure is logged (never the event's data) for operators to see."""
        try:
            self.publish(event)
        except Exception:
            logger.exception("could not publish an event", extra={"event_id": event.event_id, "event_type": event.type})


def reveal_secrets(event: DomainEvent, sealer: Sealer) -> dict[str, str]:
    """The plaintext of an event's sealed fields for the one place that sends them, webhook delivery: never the
    bus-only ones, which no webhook receives."""
    context = event_secret_context(event)
    return {name: sealer.unseal(value, context) for name, value in event.sealed.items() if name not in BUS_ONLY_SECRETS}


class EventHistory:
    """`GET /v1/events`: an org's events, newest first, never older than the retention (DynamoDB's TTL deletes
    late, so reads filter for themselves)."""

    def __init__(self, events: EventJournal, retention: timedelta, clock: Callable[[], datetime] = utc_now) -> None:
        self._events = events
        self._retention = retention
        self._clock = clock

    def list(
        self, org_id: str, event_type: EventType | None, limit: int, after: dict[str, str] | None
    ) -> tuple[list[DomainEvent], dict[str, str] | None]:
        return self._events.list_for_org(org_id, self._clock() - self._retention, event_type, limit, after)
