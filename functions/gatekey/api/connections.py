"""`/v1/connections`: create, list, read and delete connections, whose tokens say which end-user a call is for."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from gatekey.api.models import ConnectionListOut, ConnectionOut, ConnectionWithTokenOut, CreateConnectionIn
from gatekey.api.pagination import Cursor, Limit, decode_cursor, encode_cursor
from gatekey.api.services import connection_service, current_caller

router = Router()
ConnectionId = Annotated[str, Path(description="The connection's id, `conn_…`")]


@router.post(
    "/connections",
    summary="Connect an end-user; the response holds the connection token, shown only there",
    responses={
        201: {"description": "Created"},
        400: {"description": "Invalid body, or `connections_unavailable` while authorizer results are cached"},
    },
)
def create_connection(body: Annotated[CreateConnectionIn, Body()]) -> tuple[ConnectionWithTokenOut, int]:
    connection, token = connection_service().create(current_caller(router), body.provider_slug, body.end_user_id)
    return ConnectionWithTokenOut(**ConnectionOut.of(connection).model_dump(), connection_token=token), 201


@router.get("/connections", summary="List the organisation's connections, newest first")
def list_connections(
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ConnectionListOut:
    caller = current_caller(router)
    page = connection_service().list(caller, limit, decode_cursor(caller.org_id, "connections", cursor))
    return ConnectionListOut(
        data=[ConnectionOut.of(connection) for connection in page.connections],
        next_cursor=encode_cursor(caller.org_id, "connections", page.after),
    )


@router.get("/connections/<connection_id>", summary="Read one connection (never its token)")
def get_connection(connection_id: ConnectionId) -> ConnectionOut:
    return ConnectionOut.of(connection_service().get(current_caller(router), connection_id))


@router.delete("/connections/<connection_id>", summary="Delete a connection; its token stops working at once")
def delete_connection(connection_id: ConnectionId) -> ConnectionOut:
    return ConnectionOut.of(connection_service().delete(current_caller(router), connection_id))
