"""What the scheduler does on each run (DESIGN §9): rotations due, expiry notices, expiries.

"Now" is the time the schedule fired, so a run can be replayed for any moment. Each key's work is found
through the keys table's sparse schedule index and re-read before it is done; each notice and expiry is an
event with an id made from its facts, so a run repeated (or two runs at once) announces it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from gatekey.domain.api_keys import ApiKey, KeyStore
from gatekey.domain.clock import to_iso
from gatekey.domain.errors import ConflictError, GatekeyError
from gatekey.domain.events import EventPublisher, event_id_for, new_event
from gatekey.domain.key_lifecycle import KeyLifecycle
from gatekey.domain.views import key_view

logger = logging.getLogger(__name__)


class ScheduledWorkIncompleteError(Exception):
    """Some keys' work failed; raised so the platform retries the run (which skips the work already done)."""


@dataclass
class ScheduleReport:
    rotated: int = 0
    expiry_notices: int = 0
    expired: int = 0
    quota_notices: int = 0  # quota.exhausted events sent (DESIGN §13)
    failed: int = 0  # keys whose work failed (storage, KMS), or the quota check: a later run does it


class QuotaNotices(Protocol):
    """domain/plan_assignment.py: quota.exhausted, once per period, from the usage data."""

    def announce_exhausted_quotas(self, now: datetime) -> int: ...


class ScheduledWork:
    def __init__(
        self, keys: KeyStore, lifecycle: KeyLifecycle, events: EventPublisher, quotas: QuotaNotices | None = None
    ) -> None:
        self._keys = keys
        self._quotas = quotas
        self._lifecycle = lifecycle
        self._events = events

    def run(self, now: datetime) -> ScheduleReport:
        report = ScheduleReport()
        for indexed in self._keys.due_for_schedule(now):
            try:
                self._work_on(indexed.key_id, now, report)
            except GatekeyError:
                report.failed += 1
                logger.exception("scheduled work failed", extra={"key_id": indexed.key_id})
        if self._quotas is not None:
            try:
                report.quota_notices = self._quotas.announce_exhausted_quotas(now)
            except GatekeyError:
                report.failed += 1
                logger.exception("the quota check failed")
        return report

    def _work_on(self, key_id: str, now: datetime, report: ScheduleReport) -> None:
        key = self._keys.get(key_id)  # the index lags behind the table
        due = key.next_scheduled_at() if key else None
        if key is None or due is None or due > now:
            return
        if key.expires_at is not None and key.expires_at <= now:
            self._announce_expired(key, key.expires_at, now)
            report.expired += 1
            return
        notices = key.expiry_notices_due(now)
        if notices:
            key = self._announce_expiring(key, key.expires_at, notices, now)
            report.expiry_notices += 1
        rotation_due = key.rotation_due_at
        if rotation_due is not None and rotation_due <= now and key.keeps_sealed_secret:
            try:
                self._lifecycle.rotate_on_schedule(key, now)
            except ConflictError:
                return  # rotated or revoked meanwhile: the next run sees the new state
            report.rotated += 1

    def _announce_expired(self, key: ApiKey, expires_at: datetime, now: datetime) -> None:
        event_id = event_id_for("key.expired", key.key_id, to_iso(expires_at))
        self._events.publish(new_event("key.expired", key.org_id, key_view(key, now), now, event_id=event_id))
        self._keys.record_scheduled_change(key, replace(key, marked_expired=True))

    def _announce_expiring(self, key: ApiKey, expires_at: datetime | None, notices: list[int], now: datetime) -> ApiKey:
        """One key.expiring, for the nearest notice due (`notice_days` 7 or 1; a run that comes late, or a key made
        with little time left, sends no stale 7-day notice after the 1-day one); every notice due is marked sent."""
        assert expires_at is not None
        days = min(notices)
        event_id = event_id_for("key.expiring", key.key_id, to_iso(expires_at), str(days))
        data = {**key_view(key, now), "notice_days": days}
        self._events.publish(new_event("key.expiring", key.org_id, data, now, event_id=event_id))
        noticed = replace(key, expiry_notices_sent=tuple(sorted({*key.expiry_notices_sent, *notices})))
        self._keys.record_scheduled_change(key, noticed)
        return noticed
