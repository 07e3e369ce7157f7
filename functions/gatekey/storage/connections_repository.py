"""Connections in the connections table: one item per connection, holding only its token's SHA-256."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from gatekey.domain.clock import from_iso, to_iso
from gatekey.domain.connections import Connection
from gatekey.domain.errors import NotFoundError
from gatekey.storage import aws
from gatekey.storage.aws import storage_errors
from gatekey.storage.items import from_typed, plain
from gatekey.storage.paging import query_page
from gatekey.storage.tables import CONNECTIONS_TABLE

_ORG_INDEX = CONNECTIONS_TABLE.indexes[0].name


def _created_sort(connection: Connection) -> str:
    return f"{to_iso(connection.created_at)}#{connection.connection_id}"


def connection_to_item(connection: Connection) -> dict[str, Any]:
    return {
        "connection_id": connection.connection_id,
        "org_id": connection.org_id,
        "created_sort": _created_sort(connection),
        "provider_slug": connection.provider_slug,
        "end_user_id": connection.end_user_id,
        "created_at": to_iso(connection.created_at),
        "created_by": connection.created_by,
        "token_sha256": connection.token_sha256,
    }


def connection_from_item(item: dict[str, Any]) -> Connection:
    return Connection(
        connection_id=item["connection_id"],
        org_id=item["org_id"],
        provider_slug=item["provider_slug"],
        end_user_id=item["end_user_id"],
        created_at=from_iso(item["created_at"]),
        created_by=item["created_by"],
        token_sha256=item["token_sha256"],
    )


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _not_found(connection_id: str) -> NotFoundError:
    return NotFoundError(f"no connection '{connection_id}' in this organisation")


class ConnectionsRepository:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.dynamodb_resource().Table(self._table_name)

    def get(self, connection_id: str) -> Connection | None:
        """One strongly consistent read, so a deleted connection's token fails from the very next request."""
        response = aws.dynamodb_client().get_item(
            TableName=self._table_name, Key={"connection_id": {"S": connection_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return connection_from_item(from_typed(item)) if item else None

    def get_in_org(self, org_id: str, connection_id: str) -> Connection:
        """The connection if it belongs to `org_id`; another tenant's is indistinguishable from a missing one."""
        with storage_errors():
            connection = self.get(connection_id)
        if connection is None or connection.org_id != org_id:
            raise _not_found(connection_id)
        return connection

    def create(self, connection: Connection) -> None:
        with storage_errors():
            self._table.put_item(
                Item=connection_to_item(connection), ConditionExpression=Attr("connection_id").not_exists()
            )

    def delete_in_org(self, org_id: str, connection_id: str) -> Connection:
        """Delete the connection if it belongs to `org_id` and return it; else NotFoundError, nothing deleted."""
        with storage_errors():
            try:
                response = self._table.delete_item(
                    Key={"connection_id": connection_id},
                    ConditionExpression=Attr("org_id").eq(org_id),
                    ReturnValues="ALL_OLD",
                )
            except ClientError as error:
                if _condition_failed(error):
                    raise _not_found(connection_id) from error
                raise
        return connection_from_item(plain(response["Attributes"]))

    def list_for_org(
        self, org_id: str, limit: int, after: dict[str, str] | None
    ) -> tuple[list[Connection], dict[str, str] | None]:
        """Newest first; up to `limit` connections and the position to continue from (None at the end)."""
        query = {
            "IndexName": _ORG_INDEX,
            "KeyConditionExpression": Key("org_id").eq(org_id),
            "ScanIndexForward": False,
        }
        items, more = query_page(self._table, query, limit, after)
        connections = [connection_from_item(item) for item in items]
        return connections, _position(connections[-1]) if more else None


def _position(connection: Connection) -> dict[str, str]:
    return {
        "connection_id": connection.connection_id,
        "org_id": connection.org_id,
        "created_sort": _created_sort(connection),
    }
