"""Signing webhook deliveries (DESIGN §8): the one place the `Gatekey-Signature` header is computed and checked.

`Gatekey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 keyed with the webhook secret of "<t>.<raw body>">`.
Receivers check it with `verify_webhook_signature` (or their own code following §8).
"""

from __future__ import annotations

import hashlib
import hmac

EVENT_ID_HEADER = "Gatekey-Event-Id"
EVENT_TYPE_HEADER = "Gatekey-Event-Type"
SIGNATURE_HEADER = "Gatekey-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Gatekey-Signature` value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_webhook_signature(
    secret: str, header: str, body: bytes, now: int, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """Whether `header` signs `body` with `secret`, at a time within `tolerance_seconds` of `now`."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(parts.get("v1", ""), _digest(secret, timestamp, body))
