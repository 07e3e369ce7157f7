"""Domain events onto the stage's EventBridge bus, from which a rule hands them to webhook delivery."""

from __future__ import annotations

import json
import os

from gatekey.domain.errors import StorageUnavailableError
from gatekey.domain.events import DomainEvent
from gatekey.settings import EVENT_BUS_ENV_VAR
from gatekey.storage import aws
from gatekey.storage.aws import storage_errors

# The `source` of every event Gatekey puts on its bus; the delivery rule matches on it.
EVENT_SOURCE = "gatekey"
# What the webhook-delivery rule on the bus matches: every Gatekey event (the CDK stack and `gatekey serve`).
DELIVERY_EVENT_PATTERN = {"source": [EVENT_SOURCE]}


class EventBridgeBus:
    def __init__(self, bus_name: str | None = None) -> None:
        self._bus_name = bus_name or os.environ[EVENT_BUS_ENV_VAR]

    def put(self, event: DomainEvent) -> None:
        """One PutEvents entry: `detail-type` is the event's type, `detail` its envelope with secrets sealed."""
        entry = {
            "Source": EVENT_SOURCE,
            "DetailType": event.type,
            "Detail": json.dumps(event.detail(), separators=(",", ":")),
            "EventBusName": self._bus_name,
        }
        with storage_errors():
            response = aws.events_client().put_events(Entries=[entry])  # type: ignore[list-item]
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0].get("ErrorCode", "unknown error")
            raise StorageUnavailableError(f"the event bus refused the event ({failure}), try again")
