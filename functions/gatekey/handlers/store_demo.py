"""Lambda entry point of the demo store API (DESIGN §7b): the provider's API that Gatekey protects."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api.errors import error_response
from gatekey.body_integrity import require_signed_body
from gatekey.configuration import load_configuration
from gatekey.domain.permissions import Level, Resource
from gatekey.handlers import initialized
from gatekey.http_conventions import with_version, without_body

logger = Logger()
app = APIGatewayRestResolver()
app.use(middlewares=[require_signed_body])


def _answer(resource: str, action: str, status: int = 200, item_id: str | None = None) -> Response[dict[str, Any]]:
    context = app.current_event.request_context.authorizer
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={
            "resource": resource,
            "action": action,
            "id": item_id,
            "key_id": context.get("keyId"),
            "org_id": context.get("orgId"),
            "connection_id": context.get("connectionId") or None,
        },
    )


def _register(store_resource: Resource) -> None:
    resource = store_resource.name
    app.get(f"/{resource}")(lambda: _answer(resource, "list"))
    app.get(f"/{resource}/<item_id>")(lambda item_id: _answer(resource, "read", item_id=item_id))
    if store_resource.max_level >= Level.WRITE:
        app.post(f"/{resource}")(lambda: _answer(resource, "create", status=201))
        for method in ("PUT", "PATCH", "DELETE"):
            action = method.lower()
            app.route(f"/{resource}/<item_id>", method=method)(
                lambda item_id, action=action: _answer(resource, action, item_id=item_id)
            )


# The store serves the resources of its own catalog (handlers/store_demo.toml), whatever the deployment's.
@app.not_found
def no_such_route(error: Exception) -> Response[str]:
    return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such route in the demo store")


for store_resource in load_configuration().catalog.provider_resources:
    _register(store_resource)
app.post("/licenses/<item_id>/verify")(lambda item_id: _answer("licenses", "verify", item_id=item_id))
app.post("/orders/<item_id>/retry")(lambda item_id: _answer("orders", "retry", item_id=item_id))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("httpMethod") == "HEAD":  # every GET route also answers HEAD
        return with_version(without_body(app.resolve({**event, "httpMethod": "GET"}, context)))
    return with_version(app.resolve(event, context))


initialized()
