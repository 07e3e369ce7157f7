"""Domain events (DESIGN §8): the envelope, the types, deterministic ids, and sealing secrets before publishing."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gatekey.domain.events import (
    EVENT_TYPES,
    DomainEvent,
    EventPublisher,
    event_id_for,
    new_event,
    reveal_secrets,
)
from gatekey.domain.ids import is_id

ORG_ID = "org_0123456789ABCDEFabcdef"
AT = datetime(2026, 1, 1, 12, 30, 15, 250000, tzinfo=UTC)
CONNECTION_TOKEN = "gkc_plaintext-connection-token-0123456789"
RETENTION = timedelta(days=30)

DESIGNED_TYPES = (
    "key.created",
    "key.updated",
    "key.rotated",
    "key.revoked",
    "key.revealed",
    "key.expiring",
    "key.expired",
    "user.created",
    "user.invited",  # DESIGN §12: the console invitation, so a provider's webhook can email its link
    "user.deleted",
    "connection.created",
    "connection.deleted",
    "plan.changed",  # DESIGN §13
    "quota.exhausted",
)


def a_connection_created() -> DomainEvent:
    return new_event(
        "connection.created",
        ORG_ID,
        {"id": "conn_0123456789ABCDEFabcdef", "provider_slug": "acme", "end_user_id": "customer-42"},
        AT,
        secrets={"connection_token": CONNECTION_TOKEN},
    )


def a_key_created() -> DomainEvent:
    return new_event("key.created", ORG_ID, {"id": "key_0123456789ABCDEFabcdef", "label": "billing"}, AT)


def test_the_event_types_are_exactly_those_of_the_design() -> None:
    assert EVENT_TYPES == DESIGNED_TYPES


def test_the_envelope_has_exactly_the_design_keys() -> None:
    event = a_key_created()
    envelope = event.envelope()
    assert list(envelope) == ["id_event", "type", "created_at", "org_id", "data"]
    assert envelope["id_event"] == event.event_id
    assert envelope["type"] == "key.created"
    assert envelope["org_id"] == ORG_ID
    assert envelope["data"] == {"id": "key_0123456789ABCDEFabcdef", "label": "billing"}


def test_the_envelope_time_is_iso_in_utc_with_z() -> None:
    assert a_key_created().envelope()["created_at"] == "2026-01-01T12:30:15.250Z"
    elsewhere = new_event("key.created", ORG_ID, {}, AT.astimezone(ZoneInfo("Asia/Tokyo")))
    assert elsewhere.envelope()["created_at"] == "2026-01-01T12:30:15.250Z"


def test_a_new_event_gets_an_event_id() -> None:
    first, second = a_key_created(), a_key_created()
    assert is_id(first.event_id, "evt")
    assert first.event_id != second.event_id


def test_secret_fields_stay_out_of_the_envelope_unless_revealed() -> None:
    event = a_connection_created()
    assert "connection_token" not in event.envelope()["data"]
    assert CONNECTION_TOKEN not in json.dumps(event.envelope())
    revealed = event.envelope(revealed={"connection_token": CONNECTION_TOKEN})
    assert revealed["data"] == {
        "id": "conn_0123456789ABCDEFabcdef",
        "provider_slug": "acme",
        "end_user_id": "customer-42",
        "connection_token": CONNECTION_TOKEN,
    }


def test_the_plaintext_secret_is_not_in_the_events_repr() -> None:
    assert CONNECTION_TOKEN not in repr(a_connection_created())


def test_an_event_with_plaintext_secrets_cannot_leave_the_process() -> None:
    with pytest.raises(ValueError, match="must be sealed"):
        a_connection_created().detail()


def test_the_detail_carries_the_sealed_fields_beside_the_envelope() -> None:
    event = DomainEvent(
        event_id="evt_0123456789ABCDEFabcdef",
        type="connection.created",
        org_id=ORG_ID,
        created_at=AT,
        data={"id": "conn_0123456789ABCDEFabcdef"},
        sealed={"connection_token": "c2VhbGVk"},
    )
    detail = event.detail()
    assert detail == {**event.envelope(), "sealed_data": {"connection_token": "c2VhbGVk"}}


def test_an_event_without_secrets_has_empty_sealed_data() -> None:
    assert a_key_created().detail()["sealed_data"] == {}


@pytest.mark.parametrize("sealed", [{}, {"connection_token": "c2VhbGVk"}])
def test_an_event_round_trips_through_its_detail(sealed: dict[str, str]) -> None:
    event = DomainEvent(
        event_id="evt_0123456789ABCDEFabcdef",
        type="connection.created",
        org_id=ORG_ID,
        created_at=AT,
        data={"id": "conn_0123456789ABCDEFabcdef", "nested": {"a": [1, 2]}},
        sealed=sealed,
    )
    detail = json.loads(json.dumps(event.detail()))
    assert DomainEvent.from_detail(detail) == event


def test_a_detail_without_sealed_data_reads_as_no_sealed_fields() -> None:
    detail = a_key_created().envelope()
    assert DomainEvent.from_detail(detail).sealed == {}


def test_a_detail_of_an_unknown_type_is_refused() -> None:
    detail = {**a_key_created().detail(), "type": "key.exploded"}
    with pytest.raises(ValueError, match=re.escape("unknown event type 'key.exploded'")):
        DomainEvent.from_detail(detail)


def test_the_same_facts_give_the_same_event_id() -> None:
    facts = ("key.expiring", "key_0123456789ABCDEFabcdef", "2026-02-01T00:00:00.000Z", "7")
    assert event_id_for(*facts) == event_id_for(*facts)


@pytest.mark.parametrize(
    "other",
    [
        ("key.expiring", "key_0123456789ABCDEFabcdef", "2026-02-01T00:00:00.000Z", "1"),
        ("key.expiring", "key_0123456789ABCDEFabcdeg", "2026-02-01T00:00:00.000Z", "7"),
        ("key.expiring", "key_0123456789ABCDEFabcdef", "2026-02-02T00:00:00.000Z", "7"),
        ("key.expired", "key_0123456789ABCDEFabcdef", "2026-02-01T00:00:00.000Z"),
    ],
)
def test_different_facts_give_different_event_ids(other: tuple[str, ...]) -> None:
    facts = ("key.expiring", "key_0123456789ABCDEFabcdef", "2026-02-01T00:00:00.000Z", "7")
    assert event_id_for(*facts) != event_id_for(*other)


@pytest.mark.parametrize("facts", [(), ("",), ("a",), ("key.expired", "key_x", "2026-02-01T00:00:00.000Z")])
def test_a_deterministic_event_id_is_shaped_like_any_event_id(facts: tuple[str, ...]) -> None:
    assert is_id(event_id_for(*facts), "evt")


class ReversingSealer:
    """Seals by reversing and tagging, and remembers the contexts it was given."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, str]] = []

    def seal(self, plaintext: str, context: dict[str, str]) -> str:
        self.contexts.append(context)
        return "sealed:" + plaintext[::-1]

    def unseal(self, sealed: str, context: dict[str, str]) -> str:
        self.contexts.append(context)
        return sealed.removeprefix("sealed:")[::-1]


@dataclass
class RecordingJournal:
    records: list[tuple[DomainEvent, datetime]] = field(default_factory=list)

    def record(self, event: DomainEvent, expires_at: datetime) -> None:
        self.records.append((event, expires_at))


@dataclass
class RecordingBus:
    events: list[DomainEvent] = field(default_factory=list)

    def put(self, event: DomainEvent) -> None:
        self.events.append(event)


class FailingBus:
    def put(self, event: DomainEvent) -> None:
        raise ConnectionError("the bus is down")


class FailingJournal:
    def record(self, event: DomainEvent, expires_at: datetime) -> None:
        raise ConnectionError("the table is down")


def never_shows_the_plaintext(event: DomainEvent) -> None:
    assert event.secrets == {}
    assert CONNECTION_TOKEN not in json.dumps(event.detail())
    assert CONNECTION_TOKEN not in repr(event)


def test_publishing_seals_secrets_before_the_journal_and_the_bus_see_the_event() -> None:
    journal, bus, sealer = RecordingJournal(), RecordingBus(), ReversingSealer()
    event = a_connection_created()
    EventPublisher(journal, bus, sealer, RETENTION).publish(event)

    [(recorded, _)] = journal.records
    [carried] = bus.events
    for published in (recorded, carried):
        never_shows_the_plaintext(published)
        assert published.sealed == {"connection_token": "sealed:" + CONNECTION_TOKEN[::-1]}
        assert published.envelope() == event.envelope()


def test_secrets_are_sealed_for_that_event_of_that_org() -> None:
    sealer = ReversingSealer()
    event = a_connection_created()
    EventPublisher(RecordingJournal(), RecordingBus(), sealer, RETENTION).publish(event)
    assert sealer.contexts == [{"purpose": "event-secret", "event_id": event.event_id, "org_id": ORG_ID}]


def test_the_journal_keeps_an_event_for_the_retention() -> None:
    journal = RecordingJournal()
    EventPublisher(journal, RecordingBus(), ReversingSealer(), RETENTION).publish(a_key_created())
    [(_, expires_at)] = journal.records
    assert expires_at == AT + RETENTION


def test_publishing_an_event_without_secrets_seals_nothing() -> None:
    journal, bus, sealer = RecordingJournal(), RecordingBus(), ReversingSealer()
    event = a_key_created()
    EventPublisher(journal, bus, sealer, RETENTION).publish(event)
    assert sealer.contexts == []
    assert journal.records[0][0] == event
    assert bus.events == [event]


def test_publishing_lets_a_failing_bus_be_seen() -> None:
    publisher = EventPublisher(RecordingJournal(), FailingBus(), ReversingSealer(), RETENTION)
    with pytest.raises(ConnectionError):
        publisher.publish(a_key_created())


@pytest.mark.parametrize(
    ("journal", "bus"),
    [
        pytest.param(RecordingJournal(), FailingBus(), id="failing-bus"),
        pytest.param(FailingJournal(), RecordingBus(), id="failing-journal"),
    ],
)
def test_announcing_swallows_a_publishing_failure_and_logs_it_without_the_data(
    journal: RecordingJournal | FailingJournal,
    bus: RecordingBus | FailingBus,
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = a_connection_created()
    with caplog.at_level(logging.ERROR, logger="gatekey.domain.events"):
        EventPublisher(journal, bus, ReversingSealer(), RETENTION).announce(event)
    assert [record.getMessage() for record in caplog.records] == ["could not publish an event"]
    assert CONNECTION_TOKEN not in caplog.text
    assert "customer-42" not in caplog.text


def test_announcing_publishes_like_publish_when_all_is_well() -> None:
    journal, bus = RecordingJournal(), RecordingBus()
    EventPublisher(journal, bus, ReversingSealer(), RETENTION).announce(a_connection_created())
    assert len(journal.records) == 1
    assert len(bus.events) == 1
    never_shows_the_plaintext(bus.events[0])


def test_revealing_gives_the_plaintext_back_to_webhook_delivery() -> None:
    bus, sealer = RecordingBus(), ReversingSealer()
    EventPublisher(RecordingJournal(), bus, sealer, RETENTION).publish(a_connection_created())
    carried = DomainEvent.from_detail(json.loads(json.dumps(bus.events[0].detail())))
    revealed = reveal_secrets(carried, sealer)
    assert revealed == {"connection_token": CONNECTION_TOKEN}
    assert carried.envelope(revealed)["data"]["connection_token"] == CONNECTION_TOKEN
    assert sealer.contexts[-1] == {"purpose": "event-secret", "event_id": carried.event_id, "org_id": ORG_ID}


def test_revealing_an_event_without_sealed_fields_gives_nothing() -> None:
    assert reveal_secrets(a_key_created(), ReversingSealer()) == {}
