"""`/v1/logs`: the organisation's request log, newest first, within the stage's retention."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from gatekey.api.models import DateTime, LogEntryOut, LogListOut, WholeNumber
from gatekey.api.pagination import Cursor, Limit, decode_cursor, encode_cursor
from gatekey.api.services import activity_scope, current_caller, request_log_reader
from gatekey.domain.request_logs import LogFilter

router = Router()
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.get(
    "/logs",
    summary="List the organisation's logged requests, newest first (a member: only their own keys')",
    responses={
        200: {"description": "A page of logged requests"},
        404: {"description": "`key_id` names no key the caller may see (as GET /v1/keys/{key_id} would answer)"},
    },
)
def list_logs(
    *,
    key_id: Annotated[str | None, Query(max_length=64, description="only requests made with this key")] = None,
    since: Annotated[DateTime | None, Query(description="RFC 3339 date-time, inclusive")] = None,
    until: Annotated[DateTime | None, Query(description="RFC 3339 date-time, inclusive; not before `since`")] = None,
    status: Annotated[WholeNumber | None, Query(ge=100, le=599, description="only this HTTP status")] = None,
    method: Annotated[HttpMethod | None, Query(description="only this HTTP method")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> LogListOut:
    caller = current_caller(router)
    # A member reads only their own keys' requests; another key's id is a 404, as on the key routes.
    log_filter = activity_scope().log_filter(
        caller, LogFilter(since=since, until=until, key_id=key_id, status=status, method=method)
    )
    entries, after = request_log_reader().list(
        caller.org_id, log_filter, limit, decode_cursor(caller.org_id, "logs", cursor)
    )
    return LogListOut(
        data=[LogEntryOut.of(entry) for entry in entries], next_cursor=encode_cursor(caller.org_id, "logs", after)
    )
