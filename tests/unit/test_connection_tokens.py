"""The connection token format: `ctok_` + the connection id's 22 characters + a 32-character secret."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from gatekey.domain.connections import (
    Connection,
    MalformedConnectionTokenError,
    connection_id_of,
    new_connection_token,
    token_sha256,
)
from gatekey.domain.ids import new_id


def test_a_new_token_names_its_connection_and_differs_every_time() -> None:
    connection_id = new_id("conn")
    token = new_connection_token(connection_id)
    assert token.startswith("ctok_") and len(token) == 59
    assert connection_id_of(token) == connection_id
    assert new_connection_token(connection_id) != token


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ctok_",
        "conn_" + "a" * 54,
        "ctok_" + "a" * 53,
        "ctok_" + "a" * 55,
        "ctok_" + "a" * 53 + "-",
        " ctok_" + "a" * 54,
    ],
)
def test_anything_else_is_malformed(text: str) -> None:
    with pytest.raises(MalformedConnectionTokenError):
        connection_id_of(text)


def test_only_the_exact_token_matches_its_stored_hash() -> None:
    connection_id = new_id("conn")
    token = new_connection_token(connection_id)
    assert token_sha256(token) == hashlib.sha256(token.encode()).hexdigest()
    connection = Connection(
        connection_id=connection_id,
        org_id="org_1",
        provider_slug="hubspot",
        end_user_id="u-1",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        created_by="key_1",
        token_sha256=token_sha256(token),
    )
    assert connection.token_matches(token)
    assert not connection.token_matches(token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not connection.token_matches(new_connection_token(connection_id))
