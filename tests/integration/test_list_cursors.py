"""List cursors carry a MAC under the stage's cursor key (derived from its KMS pepper): only Gatekey makes them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from gatekey.api import services
from gatekey.api.pagination import decode_cursor, encode_cursor
from gatekey.domain.errors import InvalidRequestError

ORG = "org_cursorsTest"
POSITION = {"org_id": ORG, "key_id": "key_x", "created_sort": "2026-11-01T00:00:00Z#key_x"}


def hand_made(position: dict[str, str], check: str) -> str:
    payload = json.dumps(position, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + check


def refused(cursor: str, org_id: str = ORG, listing: str = "keys") -> None:
    with pytest.raises(InvalidRequestError) as error:
        decode_cursor(org_id, listing, cursor)
    assert error.value.code == "invalid_cursor"


def test_a_cursor_gatekey_made_names_its_position(storage_endpoint: str) -> None:
    cursor = encode_cursor(ORG, "keys", POSITION)
    assert cursor is not None
    assert decode_cursor(ORG, "keys", cursor) == POSITION


def test_a_cursor_built_with_an_unkeyed_digest_is_refused(storage_endpoint: str) -> None:
    payload = json.dumps(POSITION, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(b"\0".join((ORG.encode(), b"keys", payload))).hexdigest()[:16]
    refused(hand_made(POSITION, digest))


def test_a_cursor_macd_under_another_key_is_refused(storage_endpoint: str) -> None:
    payload = json.dumps(POSITION, sort_keys=True, separators=(",", ":")).encode()
    message = b"\0".join((ORG.encode(), b"keys", payload))
    guessed = hmac.new(b"not the stage's key", message, hashlib.sha256).hexdigest()[:16]
    refused(hand_made(POSITION, guessed))


def test_the_cursor_key_is_not_the_pepper_itself(storage_endpoint: str) -> None:
    assert services.cursor_key() != services.pepper().key()
    payload = json.dumps(POSITION, sort_keys=True, separators=(",", ":")).encode()
    message = b"\0".join((ORG.encode(), b"keys", payload))
    under_pepper = hmac.new(services.pepper().key(), message, hashlib.sha256).hexdigest()[:16]
    refused(hand_made(POSITION, under_pepper))


def test_a_cursor_is_bound_to_its_tenant_and_listing(storage_endpoint: str) -> None:
    cursor = encode_cursor(ORG, "keys", POSITION)
    assert cursor is not None
    refused(cursor, org_id="org_someoneElse")
    refused(cursor, listing="users")


def test_an_altered_position_is_refused(storage_endpoint: str) -> None:
    cursor = encode_cursor(ORG, "keys", POSITION)
    assert cursor is not None
    check = cursor.partition(".")[2]
    refused(hand_made({**POSITION, "key_id": "key_y"}, check))
