"""Logged requests in the request-logs table: batch writes from log ingest, org-scoped queries for `/v1/logs`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from gatekey.domain.clock import from_iso, to_iso
from gatekey.domain.request_logs import LogEntry, LogFilter
from gatekey.storage import aws
from gatekey.storage.paging import position_value, query_page
from gatekey.storage.tables import LOG_EXPIRY_ATTRIBUTE, REQUEST_LOGS_TABLE

_BY_KEY_INDEX = REQUEST_LOGS_TABLE.indexes[0].name
# Sorts after every `<ISO time>#<request id>` of the same instant, so an `until` bound includes that instant.
_AFTER_ANY_ID = "#~"


def log_sort(timestamp: datetime, request_id: str) -> str:
    return f"{to_iso(timestamp)}#{request_id}"


def entry_to_item(entry: LogEntry, expires_at: datetime) -> dict[str, Any]:
    item: dict[str, Any] = {
        "org_id": entry.org_id,
        "log_sort": log_sort(entry.timestamp, entry.request_id),
        "request_id": entry.request_id,
        "key_id": entry.key_id,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "latency_ms": entry.latency_ms,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "timestamp": to_iso(entry.timestamp),
        LOG_EXPIRY_ATTRIBUTE: int(expires_at.timestamp()),
    }
    return {name: value for name, value in item.items() if value is not None}


def entry_from_item(item: dict[str, Any]) -> LogEntry:
    return LogEntry(
        org_id=item["org_id"],
        request_id=item["request_id"],
        key_id=item.get("key_id"),
        method=item["method"],
        path=item["path"],
        status=int(item["status"]),
        latency_ms=int(item["latency_ms"]) if item.get("latency_ms") is not None else None,
        ip=item.get("ip"),
        user_agent=item.get("user_agent"),
        timestamp=from_iso(item["timestamp"]),
    )


class RequestLogsRepository:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.dynamodb_resource().Table(self._table_name)

    def write(self, entries: Iterable[LogEntry], retention: timedelta) -> None:
        """BatchWriteItem, 25 items a call, resending what DynamoDB leaves unprocessed. Writing the same
        request twice overwrites the same item, so a batch delivered twice stores each request once."""
        with self._table.batch_writer(overwrite_by_pkeys=["org_id", "log_sort"]) as batch:
            for entry in entries:
                batch.put_item(Item=entry_to_item(entry, entry.timestamp + retention))

    def list_for_org(
        self, org_id: str, log_filter: LogFilter, limit: int, after: dict[str, str] | None
    ) -> tuple[list[LogEntry], dict[str, str] | None]:
        """Newest first; up to `limit` entries and the position to continue from (None at the end).
        The caller clips `log_filter.since` to the retention."""
        lower = log_sort(log_filter.since, "") if log_filter.since else "0"  # "0" sorts before any time
        upper = to_iso(log_filter.until) + _AFTER_ANY_ID if log_filter.until else "~"
        if log_filter.key_ids is not None:
            return self._list_for_keys(org_id, log_filter, (lower, upper), limit, after)
        if log_filter.key_id:
            query: dict[str, Any] = {
                "IndexName": _BY_KEY_INDEX,
                "KeyConditionExpression": Key("key_id").eq(log_filter.key_id) & Key("log_sort").between(lower, upper),
            }
            conditions: list[ConditionBase] = [Attr("org_id").eq(org_id)]  # the index spans every org
        else:
            query = {"KeyConditionExpression": Key("org_id").eq(org_id) & Key("log_sort").between(lower, upper)}
            conditions = []
        _add_filter(query, conditions, log_filter)
        query["ScanIndexForward"] = False
        items, more = query_page(self._table, query, limit, after)
        entries = [entry_from_item(item) for item in items]
        if not more:
            return entries, None
        last = entries[-1]
        position = {"org_id": last.org_id, "log_sort": log_sort(last.timestamp, last.request_id)}
        if log_filter.key_id:
            position["key_id"] = log_filter.key_id  # the index's key, which DynamoDB wants back too
        return entries, position

    def _list_for_keys(
        self,
        org_id: str,
        log_filter: LogFilter,
        bounds: tuple[str, str],
        limit: int,
        after: dict[str, str] | None,
    ) -> tuple[list[LogEntry], dict[str, str] | None]:
        """Newest first across a few keys (a member's own): one `by_key` query per key, merged by `log_sort`.

        Not one query of the org's partition filtered on the key ids: that reads every request of the org (its
        integrations' traffic included) to find a member's few, page after page. `by_key` reads only the keys'
        own requests; a member holds few keys, so this is few queries. Each key gives up to `limit` + 1 entries
        after the position, so the merged first `limit` are the true newest and `more` is exact (no short page
        with a cursor, no cursor at the end). The position is the last entry's `log_sort`, unique within the org:
        each query resumes at it (inclusive, since a key condition has no "less than and at least"), and drops it.
        """
        assert log_filter.key_ids is not None
        wanted = log_filter.key_ids & {log_filter.key_id} if log_filter.key_id else log_filter.key_ids
        key_ids = sorted(wanted)
        lower, upper = bounds
        resume = position_value(after, "log_sort") if after else None
        if resume is not None:
            upper = min(upper, resume)
        if not key_ids or upper < lower:
            return [], None
        merged: list[dict[str, Any]] = []
        more = False
        for key_id in key_ids:
            query: dict[str, Any] = {
                "IndexName": _BY_KEY_INDEX,
                "KeyConditionExpression": Key("key_id").eq(key_id) & Key("log_sort").between(lower, upper),
                "ScanIndexForward": False,
            }
            _add_filter(query, [Attr("org_id").eq(org_id)], log_filter)  # the index spans every org
            items, key_has_more = query_page(self._table, query, limit + 1, None)
            merged += [item for item in items if item["log_sort"] != resume]
            more = more or key_has_more
        merged.sort(key=lambda item: str(item["log_sort"]), reverse=True)
        page = merged[:limit]
        entries = [entry_from_item(item) for item in page]
        if not (more or len(merged) > limit) or not page:
            return entries, None
        return entries, {"org_id": org_id, "log_sort": str(page[-1]["log_sort"])}


def _add_filter(query: dict[str, Any], conditions: list[ConditionBase], log_filter: LogFilter) -> None:
    """`conditions` and the filter's status and method, as the query's FilterExpression (none if none)."""
    conditions = list(conditions)
    if log_filter.status is not None:
        conditions.append(Attr("status").eq(log_filter.status))
    if log_filter.method:
        conditions.append(Attr("method").eq(log_filter.method))
    if conditions:
        combined = conditions[0]
        for condition in conditions[1:]:
            combined = combined & condition
        query["FilterExpression"] = combined
