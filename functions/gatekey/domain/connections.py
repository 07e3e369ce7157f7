"""Connections (DESIGN §1, Panora): which of an org's end-users a call is for, and the token saying so.

The authorizer imports this module on every cold start: managing connections is `connection_management`."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gatekey.domain.tokens import BASE62_ALPHABET, KEY_ID_LENGTH, random_base62

CONNECTION_ID_PREFIX = "conn_"
TOKEN_PREFIX = "ctok_"  # noqa: S105 - the format's prefix, not a token
ID_LENGTH = KEY_ID_LENGTH  # the length of every id's random part (`new_id`)
SECRET_LENGTH = 32
TOKEN_LENGTH = len(TOKEN_PREFIX) + ID_LENGTH + SECRET_LENGTH
_BASE62_SET = frozenset(BASE62_ALPHABET)


class MalformedConnectionTokenError(ValueError):
    """The string is not shaped like a connection token (refused before any storage read)."""


def new_connection_token(connection_id: str) -> str:
    """`ctok_` + the connection id's 22 characters + 32 random ones: hand it out once, never to a log."""
    return TOKEN_PREFIX + connection_id.removeprefix(CONNECTION_ID_PREFIX) + random_base62(SECRET_LENGTH)


def connection_id_of(token: str) -> str:
    """The id of the connection a token claims to be for; raises MalformedConnectionTokenError."""
    body = token.removeprefix(TOKEN_PREFIX)
    if not token.startswith(TOKEN_PREFIX) or len(token) != TOKEN_LENGTH or not _BASE62_SET.issuperset(body):
        raise MalformedConnectionTokenError("connection token has the wrong prefix, length or alphabet")
    return CONNECTION_ID_PREFIX + body[:ID_LENGTH]


def token_sha256(token: str) -> str:
    """What is stored of a token. ~190 random bits need no slow hash, and the authorizer stays fast."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Connection:
    connection_id: str
    org_id: str
    provider_slug: str
    end_user_id: str
    created_at: datetime
    created_by: str
    token_sha256: str

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(self.token_sha256, token_sha256(token))


class ConnectionStore(Protocol):
    """Where connections are kept (storage/connections_repository.py): what the domain asks of it."""

    def get(self, connection_id: str) -> Connection | None:
        """A strongly consistent read by id: the authorizer's read of a connection token."""

    def get_in_org(self, org_id: str, connection_id: str) -> Connection:
        """The org's connection; raises NotFoundError for another org's, like for a missing one."""

    def create(self, connection: Connection) -> None: ...

    def delete_in_org(self, org_id: str, connection_id: str) -> Connection: ...

    def list_for_org(
        self, org_id: str, limit: int, after: dict[str, str] | None
    ) -> tuple[list[Connection], dict[str, str] | None]: ...
