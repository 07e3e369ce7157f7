"""When the scheduler next has work on a key (DESIGN §9): rotations, `key.expiring` notices, the expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gatekey.domain.api_keys import EXPIRY_NOTICE_DAYS, ApiKey, RotationPolicy

CREATED_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EXPIRES_AT = CREATED_AT + timedelta(days=30)
DAY = timedelta(days=1)


def a_key(**changes: object) -> ApiKey:
    fields: dict[str, object] = {
        "key_id": "key_0123456789ABCDEFabcdef",
        "org_id": "org_0123456789ABCDEFabcdef",
        "type": "main",
        "label": "billing",
        "hint": "gk_test_AbCd…9xYz",
        "auth_mode": "bearer",
        "permissions": {},
        "created_at": CREATED_AT,
        "created_by": "usr_0123456789ABCDEFabcdef",
        "secret_hash": "$argon2id$not-a-real-hash",
    }
    fields.update(changes)
    return ApiKey(**fields)  # type: ignore[arg-type]


def test_notices_go_out_seven_days_and_one_day_ahead() -> None:
    assert EXPIRY_NOTICE_DAYS == (7, 1)


def test_a_key_without_rotation_or_expiry_leaves_the_schedule() -> None:
    key = a_key()
    assert key.rotation_due_at is None
    assert key.expiry_notices_due(CREATED_AT + 365 * DAY) == []
    assert key.next_scheduled_at() is None


def test_the_first_rotation_is_due_one_interval_after_creation() -> None:
    key = a_key(rotation=RotationPolicy(interval_days=90, grace_period_seconds=3600), recoverable=True)
    assert key.rotation_due_at == CREATED_AT + 90 * DAY
    assert key.next_scheduled_at() == CREATED_AT + 90 * DAY


def test_the_next_rotation_is_due_one_interval_after_the_last_one() -> None:
    rotated_at = CREATED_AT + 95 * DAY
    key = a_key(rotation=RotationPolicy(interval_days=90, grace_period_seconds=3600), rotated_at=rotated_at)
    assert key.rotation_due_at == rotated_at + 90 * DAY
    assert key.next_scheduled_at() == rotated_at + 90 * DAY


def test_a_key_expiring_in_thirty_days_is_next_due_for_its_seven_day_notice() -> None:
    assert a_key(expires_at=EXPIRES_AT).next_scheduled_at() == EXPIRES_AT - 7 * DAY


def test_once_the_seven_day_notice_is_sent_the_one_day_notice_is_next() -> None:
    key = a_key(expires_at=EXPIRES_AT, expiry_notices_sent=(7,))
    assert key.next_scheduled_at() == EXPIRES_AT - DAY


def test_once_both_notices_are_sent_the_expiry_itself_is_next() -> None:
    key = a_key(expires_at=EXPIRES_AT, expiry_notices_sent=(7, 1))
    assert key.next_scheduled_at() == EXPIRES_AT


def test_a_key_past_its_expiry_but_not_yet_marked_is_due_at_once() -> None:
    key = a_key(expires_at=CREATED_AT + DAY, expiry_notices_sent=(7, 1))
    assert key.next_scheduled_at() == CREATED_AT + DAY


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"revoked": True}, id="revoked"),
        pytest.param({"marked_expired": True}, id="marked-expired"),
    ],
)
def test_a_revoked_or_expired_key_leaves_the_schedule(changes: dict[str, object]) -> None:
    key = a_key(
        expires_at=EXPIRES_AT,
        rotation=RotationPolicy(interval_days=7, grace_period_seconds=0),
        recoverable=True,
        **changes,
    )
    assert key.next_scheduled_at() is None


@pytest.mark.parametrize(
    ("before_expiry", "sent", "due"),
    [
        pytest.param(30 * DAY, (), [], id="a-month-ahead"),
        pytest.param(7 * DAY + timedelta(seconds=1), (), [], id="just-before-the-seven-day-moment"),
        pytest.param(7 * DAY, (), [7], id="at-the-seven-day-moment"),
        pytest.param(3 * DAY, (), [7], id="between-seven-and-one-day"),
        pytest.param(DAY + timedelta(seconds=1), (), [7], id="just-before-the-one-day-moment"),
        pytest.param(DAY, (7,), [1], id="at-the-one-day-moment"),
        pytest.param(timedelta(hours=5), (), [7, 1], id="under-a-day-left-nothing-sent"),
        pytest.param(timedelta(hours=5), (7,), [1], id="under-a-day-left-seven-sent"),
        pytest.param(timedelta(hours=5), (1,), [7], id="under-a-day-left-one-sent"),
        pytest.param(3 * DAY, (7,), [], id="seven-already-sent"),
        pytest.param(timedelta(hours=5), (7, 1), [], id="both-already-sent"),
        pytest.param(timedelta(0), (), [], id="at-the-expiry"),
        pytest.param(-DAY, (), [], id="after-the-expiry"),
    ],
)
def test_expiry_notices_fall_due_in_their_window_and_only_once(
    before_expiry: timedelta, sent: tuple[int, ...], due: list[int]
) -> None:
    key = a_key(expires_at=EXPIRES_AT, expiry_notices_sent=sent)
    assert key.expiry_notices_due(EXPIRES_AT - before_expiry) == due


def test_a_key_without_expiry_has_no_notices_due() -> None:
    assert a_key().expiry_notices_due(CREATED_AT) == []


def test_a_rotation_before_the_first_notice_comes_first() -> None:
    key = a_key(
        expires_at=EXPIRES_AT,
        rotation=RotationPolicy(interval_days=10, grace_period_seconds=0),
        recoverable=True,
    )
    assert key.next_scheduled_at() == CREATED_AT + 10 * DAY


def test_a_notice_before_the_rotation_comes_first() -> None:
    key = a_key(
        expires_at=EXPIRES_AT,
        rotation=RotationPolicy(interval_days=90, grace_period_seconds=0),
        recoverable=True,
    )
    assert key.next_scheduled_at() == EXPIRES_AT - 7 * DAY


def test_an_expiry_before_the_rotation_comes_first_once_notices_are_sent() -> None:
    key = a_key(
        expires_at=EXPIRES_AT,
        expiry_notices_sent=(7, 1),
        rotation=RotationPolicy(interval_days=90, grace_period_seconds=0),
        recoverable=True,
    )
    assert key.next_scheduled_at() == EXPIRES_AT


def test_a_rotation_between_the_notices_comes_before_the_one_day_notice() -> None:
    key = a_key(
        expires_at=EXPIRES_AT,
        expiry_notices_sent=(7,),
        rotation=RotationPolicy(interval_days=27, grace_period_seconds=0),
        recoverable=True,
    )
    assert key.next_scheduled_at() == CREATED_AT + 27 * DAY
