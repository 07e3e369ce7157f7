"""The `Gatekey-Signature` header (DESIGN §8), recomputed here from the design's words, and its verification."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from gatekey.domain.webhook_signing import (
    DEFAULT_TOLERANCE_SECONDS,
    verify_webhook_signature,
    webhook_signature,
)

SECRET = "whsec_caf\u00e9-0123456789"  # not ASCII, so the UTF-8 encoding the design names matters
SENT_AT = 1767225600
BODY = b'{"id_event":"evt_x","type":"key.created","data":{"label":"caf\xc3\xa9"}}'


def signature_per_design(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<lowercase hex HMAC-SHA256 keyed with the secret (UTF-8) of "<t>.<raw body>">`."""
    digest = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def test_the_signature_is_the_one_the_design_describes_byte_for_byte() -> None:
    assert webhook_signature(SECRET, SENT_AT, BODY) == signature_per_design(SECRET, SENT_AT, BODY)


def test_the_signature_is_lowercase_hex_after_the_timestamp() -> None:
    timestamp_part, digest_part = webhook_signature(SECRET, SENT_AT, BODY).split(",")
    assert timestamp_part == f"t={SENT_AT}"
    digest = digest_part.removeprefix("v1=")
    assert len(digest) == 64
    assert digest == digest.lower()
    int(digest, 16)


def test_an_empty_body_is_signed_too() -> None:
    assert webhook_signature(SECRET, SENT_AT, b"") == signature_per_design(SECRET, SENT_AT, b"")


def test_a_signature_made_per_the_design_is_accepted() -> None:
    header = signature_per_design(SECRET, SENT_AT, BODY)
    assert verify_webhook_signature(SECRET, header, BODY, now=SENT_AT)


def test_a_changed_body_is_rejected() -> None:
    header = webhook_signature(SECRET, SENT_AT, BODY)
    assert not verify_webhook_signature(SECRET, header, BODY + b" ", now=SENT_AT)
    assert not verify_webhook_signature(SECRET, header, BODY.replace(b"created", b"revoked"), now=SENT_AT)


def test_another_secret_is_rejected() -> None:
    header = webhook_signature(SECRET, SENT_AT, BODY)
    assert not verify_webhook_signature(SECRET + "x", header, BODY, now=SENT_AT)


def test_a_changed_timestamp_is_rejected() -> None:
    digest = webhook_signature(SECRET, SENT_AT, BODY).split(",v1=")[1]
    assert not verify_webhook_signature(SECRET, f"t={SENT_AT + 1},v1={digest}", BODY, now=SENT_AT)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (0, True),
        (DEFAULT_TOLERANCE_SECONDS, True),
        (-DEFAULT_TOLERANCE_SECONDS, True),
        (DEFAULT_TOLERANCE_SECONDS + 1, False),
        (-DEFAULT_TOLERANCE_SECONDS - 1, False),
        (86_400, False),
        (-86_400, False),
    ],
)
def test_a_timestamp_is_accepted_only_within_the_tolerance_in_both_directions(offset: int, accepted: bool) -> None:
    header = webhook_signature(SECRET, SENT_AT, BODY)
    assert verify_webhook_signature(SECRET, header, BODY, now=SENT_AT + offset) is accepted


def test_the_tolerance_can_be_narrowed() -> None:
    header = webhook_signature(SECRET, SENT_AT, BODY)
    assert verify_webhook_signature(SECRET, header, BODY, now=SENT_AT + 10, tolerance_seconds=10)
    assert not verify_webhook_signature(SECRET, header, BODY, now=SENT_AT + 11, tolerance_seconds=10)


def _digest() -> str:
    return webhook_signature(SECRET, SENT_AT, BODY).split(",v1=")[1]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("", id="missing"),
        pytest.param("garbage", id="no-fields"),
        pytest.param(f"v1={_digest()}", id="no-timestamp"),
        pytest.param(f"t={SENT_AT}", id="no-digest"),
        pytest.param(f"t=yesterday,v1={_digest()}", id="timestamp-not-a-number"),
        pytest.param(f"t={SENT_AT},v1=", id="empty-digest"),
        pytest.param(f"t={SENT_AT},v1={_digest()[:-1]}", id="truncated-digest"),
        pytest.param(f"t={SENT_AT},v0={_digest()}", id="unknown-version"),
        pytest.param(f"t={SENT_AT};v1={_digest()}", id="wrong-separator"),
    ],
)
def test_a_missing_or_garbled_header_is_rejected(header: str) -> None:
    assert not verify_webhook_signature(SECRET, header, BODY, now=SENT_AT)
