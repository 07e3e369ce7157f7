"""`/v1/events`: the organisation's domain events of the last 30 days, newest first."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from gatekey.api.models import EventListOut, EventOut
from gatekey.api.pagination import Cursor, Limit, decode_cursor, encode_cursor
from gatekey.api.services import current_caller, visible_event_history
from gatekey.domain.events import EventType

router = Router()


@router.get(
    "/events",
    summary="List the organisation's events, newest first (secret fields reach webhooks only; a member sees no "
    "key.* event of another's key)",
)
def list_events(
    type: Annotated[EventType | None, Query(description="only events of this type")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> EventListOut:
    caller = current_caller(router)
    # A member sees no key.* event of a key they may not see.
    events, after = visible_event_history().list(caller, type, limit, decode_cursor(caller.org_id, "events", cursor))
    return EventListOut(
        data=[EventOut.of(event) for event in events], next_cursor=encode_cursor(caller.org_id, "events", after)
    )
