"""Domain events in the events table, kept for `GET /v1/events` until the retention's TTL removes them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from gatekey.domain.clock import to_iso
from gatekey.domain.events import DomainEvent
from gatekey.storage import aws
from gatekey.storage.aws import storage_errors
from gatekey.storage.paging import query_page
from gatekey.storage.tables import EVENT_EXPIRY_ATTRIBUTE


def event_sort(event: DomainEvent) -> str:
    return f"{to_iso(event.created_at)}#{event.event_id}"


class EventsRepository:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.dynamodb_resource().Table(self._table_name)

    def record(self, event: DomainEvent, expires_at: datetime) -> None:
        """Store the event as it travels (secret fields sealed); the same event stored twice is one item."""
        item = {
            "org_id": event.org_id,
            "event_sort": event_sort(event),
            "event_id": event.event_id,
            "type": event.type,
            "detail": json.dumps(event.detail(), separators=(",", ":")),
            EVENT_EXPIRY_ATTRIBUTE: int(expires_at.timestamp()),
        }
        with storage_errors():
            self._table.put_item(Item=item)

    def list_for_org(
        self,
        org_id: str,
        since: datetime,
        event_type: str | None,
        limit: int,
        after: dict[str, str] | None,
        *,
        visible: Callable[[DomainEvent], bool] | None = None,
    ) -> tuple[list[DomainEvent], dict[str, str] | None]:
        """Newest first, none older than `since`; up to `limit` events and the position to continue from.

        `visible` (a member's view) is applied while paging, so a page is as full as an unfiltered one and
        `next_cursor` is null only at the end. It is a rule on the event's data, which is stored as one JSON
        document, so it runs here rather than as a FilterExpression; an org's events are few (30 days of key,
        user and connection changes), so reading past the ones a member may not see costs little."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("org_id").eq(org_id) & Key("event_sort").gte(to_iso(since)),
            "ScanIndexForward": False,
        }
        if event_type:
            query["FilterExpression"] = Attr("type").eq(event_type)
        keep = None if visible is None else (lambda item: visible(_event_of(item)))
        items, more = query_page(self._table, query, limit, after, keep)
        events = [_event_of(item) for item in items]
        if not more:
            return events, None
        return events, {"org_id": org_id, "event_sort": items[-1]["event_sort"]}


def _event_of(item: dict[str, Any]) -> DomainEvent:
    return DomainEvent.from_detail(json.loads(item["detail"]))
