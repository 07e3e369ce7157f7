"""The management API: one resolver, one router per resource, and the conventions every reply follows."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api import keys, me
from gatekey.api.errors import error_body, register_error_handlers
from gatekey.api.idempotency import invalid_key_response, is_valid_idempotency_key, resolve_once
from gatekey.domain.authentication import header
from gatekey.settings import API_VERSION, SUPPORTED_API_VERSIONS

app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app)
app.include_router(me.router, prefix="/v1")
app.include_router(keys.router, prefix="/v1")


@app.get("/health", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> dict[str, Any]:
    return app.get_openapi_schema(title="Gatekey management API", version=API_VERSION).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )


def _unsupported_version(requested: str) -> dict[str, Any]:
    supported = ", ".join(sorted(SUPPORTED_API_VERSIONS))
    return {
        "statusCode": HTTPStatus.BAD_REQUEST.value,
        "headers": {"Content-Type": "application/json"},
        "body": error_body("unsupported_version", f"Gatekey-Version '{requested}' is unknown; use one of: {supported}"),
        "isBase64Encoded": False,
    }


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve one API Gateway proxy event, applying versioning and idempotency around the routes."""
    headers = event.get("headers")
    requested_version = header(headers, "Gatekey-Version")
    idempotency_key = header(headers, "Idempotency-Key")
    if requested_version is not None and requested_version not in SUPPORTED_API_VERSIONS:
        response = _unsupported_version(requested_version)
    elif idempotency_key is not None and event.get("httpMethod") == "POST":
        if is_valid_idempotency_key(idempotency_key):
            response = resolve_once(event, context, idempotency_key, app.resolve)
        else:
            response = invalid_key_response()
    else:
        response = app.resolve(event, context)
    response.setdefault("headers", {})["Gatekey-Version"] = API_VERSION
    if response.get("multiValueHeaders"):
        response["multiValueHeaders"]["Gatekey-Version"] = [API_VERSION]
    return response
