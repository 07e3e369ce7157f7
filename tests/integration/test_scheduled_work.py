"""The scheduler Lambda against moto: rotations due, expiry notices once each, expiry; found by query, never scan.

Every run gets an EventBridge scheduled event shaped like AWS's own sample (events/aws/), with the `time` of the run.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from gatekey.api import services
from gatekey.domain.api_keys import RotationPolicy
from gatekey.domain.clock import to_iso, utc_now
from gatekey.domain.errors import StorageUnavailableError
from gatekey.domain.events import DomainEvent
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.storage.event_bus import EventBridgeBus
from gatekey.storage.keys_repository import KeysRepository
from tests.aws_samples import AWS_EVENTS
from tests.conftest import lambda_context

SAMPLE = AWS_EVENTS / "eventBridgeScheduledEvent.json"


@pytest.fixture
def scheduler(storage_endpoint: str) -> Any:
    from gatekey.handlers import scheduler

    return scheduler


def run_at(scheduler: Any, moment: datetime) -> dict[str, int]:
    event = json.loads(SAMPLE.read_text())
    event["time"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    report: dict[str, int] = scheduler.lambda_handler(event, lambda_context("scheduler"))
    return report


def events_of(org_id: str, event_type: str) -> list[DomainEvent]:
    events, _ = services.event_history().list(org_id, event_type, 200, None)  # type: ignore[arg-type]
    return events


def whole_seconds(moment: datetime) -> datetime:
    """An EventBridge event's `time` has whole seconds."""
    return moment.replace(microsecond=0)


def test_a_due_rotation_gives_a_new_revealable_secret_and_keeps_the_old_one_for_the_grace_period(
    scheduler: Any, lifecycle: KeyLifecycle, admin: Caller, keys_repository: KeysRepository
) -> None:
    policy = RotationPolicy(interval_days=30, grace_period_seconds=3600)
    key, token = lifecycle.create(admin, NewKey(label="rotating", recoverable=True, rotation=policy))
    due = whole_seconds(key.created_at + timedelta(days=30, minutes=1))

    run_at(scheduler, due)

    rotated = keys_repository.get(key.key_id)
    assert rotated is not None
    assert rotated.secret_version == 2
    assert rotated.rotated_at == due
    revealed = lifecycle.reveal(admin, key.key_id)[1]
    assert revealed != token.value and revealed.startswith("gk_test_")
    assert rotated.secret_hashes_accepted(due + timedelta(minutes=59)) == [rotated.secret_hash, key.secret_hash]
    assert rotated.secret_hashes_accepted(due + timedelta(minutes=61)) == [rotated.secret_hash]
    (announced,) = events_of(admin.org_id, "key.rotated")
    assert announced.data["id"] == key.key_id
    assert announced.data["rotated_by"] == "schedule"
    assert revealed not in json.dumps(announced.detail()) and token.value not in json.dumps(announced.detail())
    # The next rotation is due an interval after this one, not again at once.
    run_at(scheduler, due + timedelta(days=29))
    assert keys_repository.get(key.key_id).secret_version == 2  # type: ignore[union-attr]


def test_no_rotation_before_its_interval(
    scheduler: Any, lifecycle: KeyLifecycle, admin: Caller, keys_repository: KeysRepository
) -> None:
    policy = RotationPolicy(interval_days=7, grace_period_seconds=0)
    key, _ = lifecycle.create(admin, NewKey(label="not yet", auth_mode="hmac", rotation=policy))
    run_at(scheduler, whole_seconds(key.created_at + timedelta(days=6, hours=23)))
    assert keys_repository.get(key.key_id).secret_version == 1  # type: ignore[union-attr]
    assert events_of(admin.org_id, "key.rotated") == []


def test_expiry_notices_go_out_seven_days_and_one_day_ahead_once_each_even_when_runs_repeat(
    scheduler: Any, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    expires_at = whole_seconds(utc_now() + timedelta(days=40))
    key, _ = lifecycle.create(admin, NewKey(label="expiring", expires_at=expires_at))

    run_at(scheduler, expires_at - timedelta(days=8))
    assert events_of(admin.org_id, "key.expiring") == []
    for _ in range(2):
        run_at(scheduler, expires_at - timedelta(days=6, hours=12))
    for moment in (expires_at - timedelta(hours=20), expires_at - timedelta(hours=19)):
        run_at(scheduler, moment)

    notices = events_of(admin.org_id, "key.expiring")
    assert [notice.data["notice_days"] for notice in notices] == [1, 7]  # newest first
    assert all(notice.data["id"] == key.key_id and notice.data["status"] == "active" for notice in notices)


def test_a_key_created_a_day_before_it_expires_gets_only_the_one_day_notice(
    scheduler: Any, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    expires_at = whole_seconds(utc_now() + timedelta(hours=20))
    lifecycle.create(admin, NewKey(label="short-lived", expires_at=expires_at))
    run_at(scheduler, expires_at - timedelta(hours=19))
    run_at(scheduler, expires_at - timedelta(hours=18))
    assert [notice.data["notice_days"] for notice in events_of(admin.org_id, "key.expiring")] == [1]


def test_a_lapsed_key_is_marked_expired_announced_once_and_leaves_the_schedule(
    scheduler: Any, lifecycle: KeyLifecycle, admin: Caller, keys_repository: KeysRepository
) -> None:
    expires_at = whole_seconds(utc_now() + timedelta(days=3))
    key, _ = lifecycle.create(admin, NewKey(label="lapsing", expires_at=expires_at))
    after = expires_at + timedelta(minutes=5)

    run_at(scheduler, after)
    run_at(scheduler, after + timedelta(minutes=5))

    (expired,) = events_of(admin.org_id, "key.expired")
    assert expired.data["id"] == key.key_id and expired.data["status"] == "expired"
    stored = keys_repository.get(key.key_id)
    assert stored is not None and stored.marked_expired and stored.status(after) == "expired"
    assert key.key_id not in {due.key_id for due in keys_repository.due_for_schedule(after + timedelta(days=365))}
    # Revoking an expired key still frees its place and revokes it.
    assert lifecycle.revoke(admin, key.key_id).revoked
    assert keys_repository.get(key.key_id).revoked  # type: ignore[union-attr]


def test_a_revoked_key_has_no_scheduled_work(scheduler: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    expires_at = whole_seconds(utc_now() + timedelta(days=2))
    key, _ = lifecycle.create(admin, NewKey(label="revoked", expires_at=expires_at))
    lifecycle.revoke(admin, key.key_id)
    run_at(scheduler, expires_at + timedelta(days=1))
    assert events_of(admin.org_id, "key.expiring") == []
    assert events_of(admin.org_id, "key.expired") == []


def test_a_new_expiry_date_gets_its_own_notices(scheduler: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    from gatekey.domain.key_lifecycle import KeyChanges

    expires_at = whole_seconds(utc_now() + timedelta(days=10))
    key, _ = lifecycle.create(admin, NewKey(label="extended", expires_at=expires_at))
    run_at(scheduler, expires_at - timedelta(days=6))
    lifecycle.update(admin, key.key_id, KeyChanges(expires_at=expires_at + timedelta(days=30)))
    run_at(scheduler, expires_at + timedelta(days=24))
    assert [notice.data["notice_days"] for notice in events_of(admin.org_id, "key.expiring")] == [7, 7]


def test_due_keys_are_found_through_the_schedule_index_never_a_scan(
    scheduler: Any, lifecycle: KeyLifecycle, admin: Caller, aws_calls: list[str]
) -> None:
    expires_at = whole_seconds(utc_now() + timedelta(days=5))
    lifecycle.create(admin, NewKey(label="indexed", expires_at=expires_at))
    aws_calls.clear()
    run_at(scheduler, expires_at - timedelta(days=4))
    assert "dynamodb:Query" in aws_calls
    assert "dynamodb:Scan" not in aws_calls
    assert len(events_of(admin.org_id, "key.expiring")) == 1


def test_a_run_cut_short_by_the_bus_fails_and_its_retry_announces_each_notice_once(
    scheduler: Any, lifecycle: KeyLifecycle, admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    expires_at = whole_seconds(utc_now() + timedelta(days=5))
    key, _ = lifecycle.create(admin, NewKey(label="retried", expires_at=expires_at))
    moment = expires_at - timedelta(days=4)
    real_put = EventBridgeBus.put

    def refuse(self: EventBridgeBus, event: DomainEvent) -> None:
        raise StorageUnavailableError("EventBridge is throttling")

    monkeypatch.setattr(EventBridgeBus, "put", refuse)
    with pytest.raises(scheduler.ScheduledWorkIncompleteError):
        run_at(scheduler, moment)
    monkeypatch.setattr(EventBridgeBus, "put", real_put)

    run_at(scheduler, moment)  # the platform's retry, with the same event time
    run_at(scheduler, moment + timedelta(minutes=15))
    (notice,) = events_of(admin.org_id, "key.expiring")
    assert notice.data["id"] == key.key_id
    assert to_iso(notice.created_at) == to_iso(moment)
