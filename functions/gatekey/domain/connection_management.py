"""Managing an org's connections: create (the token is handed out once, and to webhooks in connection.created),
list, read and delete; the authorizer checks their tokens itself (`gatekey.domain.connections`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gatekey.domain.clock import utc_now
from gatekey.domain.connections import Connection, ConnectionStore, new_connection_token, token_sha256
from gatekey.domain.errors import InvalidRequestError, NotFoundError
from gatekey.domain.events import EventPublisher, new_event
from gatekey.domain.ids import is_id, new_id
from gatekey.domain.views import connection_view

if TYPE_CHECKING:
    from gatekey.domain.key_lifecycle import Caller


@dataclass(frozen=True)
class ConnectionPage:
    connections: list[Connection]
    after: dict[str, str] | None


class ConnectionService:
    """Create, list, read and delete an org's connections; the authorizer checks their tokens itself."""

    def __init__(
        self,
        connections: ConnectionStore,
        *,
        events: EventPublisher,
        enabled: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._connections = connections
        self._events = events
        self._enabled = enabled
        self._clock = clock

    def create(self, caller: Caller, provider_slug: str, end_user_id: str) -> tuple[Connection, str]:
        """A new connection and its token, which exists nowhere else once this returns."""
        if not self._enabled:
            raise InvalidRequestError(
                "this deployment caches authorizer results by API key and IP, not by X-Connection-Token, so a "
                "cached answer could name another connection; turn authorizer caching off to use connections",
                code="connections_unavailable",
            )
        connection_id = new_id("conn")
        token = new_connection_token(connection_id)
        connection = Connection(
            connection_id=connection_id,
            org_id=caller.org_id,
            provider_slug=provider_slug,
            end_user_id=end_user_id,
            created_at=self._clock(),
            created_by=caller.user_id or caller.key_id,
            token_sha256=token_sha256(token),
        )
        self._connections.create(connection)
        # Panora's flow: the customer's webhook learns the token from connection.created (sealed until delivery).
        self._events.announce(
            new_event(
                "connection.created",
                connection.org_id,
                connection_view(connection),
                connection.created_at,
                secrets={"connection_token": token},
            )
        )
        return connection, token

    def list(self, caller: Caller, limit: int, after: dict[str, str] | None) -> ConnectionPage:
        connections, next_after = self._connections.list_for_org(caller.org_id, limit, after)
        return ConnectionPage(connections=connections, after=next_after)

    def get(self, caller: Caller, connection_id: str) -> Connection:
        _check_shape(connection_id)
        return self._connections.get_in_org(caller.org_id, connection_id)

    def delete(self, caller: Caller, connection_id: str) -> Connection:
        """Delete at once: the authorizer's next (strongly consistent) read no longer finds the token."""
        _check_shape(connection_id)
        connection = self._connections.delete_in_org(caller.org_id, connection_id)
        self._events.announce(
            new_event("connection.deleted", connection.org_id, connection_view(connection), self._clock())
        )
        return connection

    def of_caller(self, caller: Caller) -> Connection | None:
        """The connection the caller's request was made for, if any (and if it was not deleted meanwhile)."""
        if caller.connection_id is None:
            return None
        try:
            return self.get(caller, caller.connection_id)
        except NotFoundError:
            return None


def _check_shape(connection_id: str) -> None:
    """Anything not shaped like an id is missing, unread; and not echoed, in case a token was pasted there."""
    if not is_id(connection_id, "conn"):
        raise NotFoundError("no such connection in this organisation")
