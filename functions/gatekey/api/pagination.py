"""Opaque list cursors, MACed under the stage's cursor key and bound to the tenant and listing that received them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Annotated, cast

from aws_lambda_powertools.event_handler.openapi.params import Query

from gatekey.api.models import WholeNumber
from gatekey.api.services import cursor_key
from gatekey.domain.errors import InvalidRequestError

# HMAC-SHA256 truncated to 64 bits (16 hex digits, the format cursors always had): without the key a forger can
# only guess online, one request per guess, and 2^64 guesses are out of reach.
_CHECK_LENGTH = 16
CURSOR_PATTERN = rf"^[A-Za-z0-9_-]*\.[0-9a-f]{{{_CHECK_LENGTH}}}$"

# The paging parameters of every list route.
Limit = Annotated[WholeNumber, Query(ge=1, le=200, description="At most this many items (default 50)")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=2048,
        pattern=CURSOR_PATTERN,
        description="The previous page's `next_cursor`, as given: another tenant's or an altered one is 400",
    ),
]


def _check(org_id: str, listing: str, payload: bytes) -> str:
    """The cursor's MAC: only a holder of the stage's cursor key (a Gatekey function) can make one that passes."""
    message = b"\0".join((org_id.encode(), listing.encode(), payload))
    return hmac.new(cursor_key(), message, hashlib.sha256).hexdigest()[:_CHECK_LENGTH]


def encode_cursor(org_id: str, listing: str, position: dict[str, str] | None) -> str | None:
    """The cursor of a page position of `listing` (keys, users, ...) for the tenant `org_id`; None at the end."""
    if position is None:
        return None
    payload = json.dumps(position, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _check(org_id, listing, payload)


def decode_cursor(org_id: str, listing: str, cursor: str | None) -> dict[str, str] | None:
    """The position a cursor names; a tampered cursor, another tenant's or another listing's is a 400."""
    if not cursor:
        return None
    encoded, _, check = cursor.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as error:
        raise _invalid() from error
    # The MAC first, compared in constant time: nothing the client made up is parsed.
    if not hmac.compare_digest(check.encode(), _check(org_id, listing, payload).encode()):
        raise _invalid()
    position = json.loads(payload)
    if not isinstance(position, dict) or position.get("org_id") != org_id:
        raise _invalid()
    return cast(dict[str, str], position)


def _invalid() -> InvalidRequestError:
    return InvalidRequestError("cursor is not valid", code="invalid_cursor")
