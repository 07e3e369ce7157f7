"""Request logs (DESIGN §7): turning access-log lines into per-org entries, and reading them within retention."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import ValidationError

from gatekey.access_log import AccessLogLine
from gatekey.domain.api_keys import KeyStore
from gatekey.domain.clock import utc_now
from gatekey.domain.errors import InvalidRequestError


@dataclass(frozen=True)
class LogEntry:
    org_id: str
    request_id: str
    key_id: str | None
    method: str
    path: str
    status: int
    latency_ms: int | None
    ip: str | None
    user_agent: str | None
    timestamp: datetime


@dataclass(frozen=True)
class LogFilter:
    """Filters of `GET /v1/logs`; `since` and `until` are inclusive."""

    since: datetime | None = None
    until: datetime | None = None
    key_id: str | None = None
    status: int | None = None
    method: str | None = None
    # Only requests made with one of these keys (a member's own, domain/activity_scope.py); None: any key.
    key_ids: frozenset[str] | None = None


class RequestLogStore(Protocol):
    """Where request-log entries are kept (storage/request_logs_repository.py): what the domain asks of it."""

    def write(self, entries: Iterable[LogEntry], retention: timedelta) -> None:
        """Store each entry once (a delivery that arrives twice stores nothing new), expiring after `retention`."""

    def list_for_org(
        self, org_id: str, log_filter: LogFilter, limit: int, after: dict[str, str] | None
    ) -> tuple[list[LogEntry], dict[str, str] | None]:
        """Newest first; `log_filter.key_ids`, when given, narrows to those keys without short pages."""


@dataclass(frozen=True)
class IngestReport:
    """What one delivery held: entries stored, lines skipped as malformed, and requests of no org."""

    stored: int
    malformed: int
    unattributed: int
    keys_touched: int


def entry_from_line(line: str) -> LogEntry | None:
    """The entry a line describes; None for a request no valid key made (not attributed to any org).
    Raises ValueError for a line that is not an access-log line."""
    try:
        parsed = AccessLogLine.model_validate_json(line)
    except ValidationError as error:
        raise ValueError(str(error)) from error
    if parsed.org_id is None:
        return None
    return LogEntry(
        org_id=parsed.org_id,
        request_id=parsed.request_id,
        key_id=parsed.key_id,
        method=parsed.method,
        path=parsed.path_within_api,
        status=parsed.status,
        latency_ms=parsed.latency_ms,
        ip=parsed.ip,
        user_agent=parsed.user_agent,
        timestamp=datetime.fromtimestamp(parsed.request_time_epoch_ms / 1000, UTC),
    )


class RequestLogIngest:
    def __init__(self, logs: RequestLogStore, keys: KeyStore, retention: timedelta) -> None:
        self._logs = logs
        self._keys = keys
        self._retention = retention

    def ingest(self, lines: Iterable[str]) -> IngestReport:
        """Store every attributed request; note each key's latest use once per delivery."""
        entries: list[LogEntry] = []
        malformed = unattributed = 0
        for line in lines:
            try:
                entry = entry_from_line(line)
            except ValueError:
                malformed += 1
                continue
            if entry is None:
                unattributed += 1
            else:
                entries.append(entry)
        self._logs.write(entries, self._retention)
        latest_use: dict[str, datetime] = {}
        for entry in entries:
            if entry.key_id and entry.timestamp > latest_use.get(entry.key_id, datetime.min.replace(tzinfo=UTC)):
                latest_use[entry.key_id] = entry.timestamp
        for key_id, used_at in latest_use.items():
            self._keys.record_use(key_id, used_at)
        return IngestReport(len(entries), malformed, unattributed, len(latest_use))


class RequestLogReader:
    def __init__(self, logs: RequestLogStore, retention: timedelta, clock: Callable[[], datetime] = utc_now) -> None:
        self._logs = logs
        self._retention = retention
        self._clock = clock

    def list(
        self, org_id: str, log_filter: LogFilter, limit: int, after: dict[str, str] | None
    ) -> tuple[list[LogEntry], dict[str, str] | None]:
        """The org's entries, newest first; nothing older than the retention, whatever TTL has not yet deleted."""
        since, until = log_filter.since, log_filter.until
        if since is not None and until is not None and until < since:
            raise InvalidRequestError("until must not be before since", code="invalid_time_range")
        oldest_kept = self._clock() - self._retention
        clipped = replace(log_filter, since=max(since, oldest_kept) if since else oldest_kept)
        if until is not None and until < oldest_kept:
            return [], None  # the whole range is past retention
        if log_filter.key_ids is not None and not log_filter.key_ids:
            return [], None  # a caller who may see no key sees no request
        return self._logs.list_for_org(org_id, clipped, limit, after)
