"""The management API: one resolver, one router per resource, and the conventions every reply follows."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api import connections, events, keys, logs, me, orgs, permissions, users, webhooks
from gatekey.api.errors import error_body, register_error_handlers
from gatekey.api.idempotency import invalid_key_response, is_valid_idempotency_key, resolve_once
from gatekey.body_integrity import UNSIGNED_BODY_RESPONSE, body_matches_signature
from gatekey.domain.authentication import header
from gatekey.settings import API_VERSION, SUPPORTED_API_VERSIONS

app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app)
app.include_router(me.router, prefix="/v1")
app.include_router(keys.router, prefix="/v1")
app.include_router(logs.router, prefix="/v1")
app.include_router(connections.router, prefix="/v1")
app.include_router(users.router, prefix="/v1")
app.include_router(orgs.router, prefix="/v1")
app.include_router(webhooks.router, prefix="/v1")
app.include_router(events.router, prefix="/v1")
app.include_router(permissions.router, prefix="/v1")


@app.get("/health", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> dict[str, Any]:
    return app.get_openapi_schema(title="Gatekey management API", version=API_VERSION).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )


def _bad_request(code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": HTTPStatus.BAD_REQUEST.value,
        "headers": {"Content-Type": "application/json"},
        "body": error_body(code, message),
        "isBase64Encoded": False,
    }


def _sends_non_json_body(event: dict[str, Any]) -> bool:
    """A body under another declared type (curl's default form encoding, say) is refused, not half-read."""
    content_type = header(event.get("headers"), "Content-Type")
    return (
        bool(event.get("body")) and content_type is not None and not content_type.lower().startswith("application/json")
    )


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve one API Gateway proxy event, applying versioning and idempotency around the routes."""
    headers = event.get("headers")
    requested_version = header(headers, "Gatekey-Version")
    idempotency_key = header(headers, "Idempotency-Key")
    if not body_matches_signature(event):  # before idempotency: a tampered body must not be remembered
        response = {**UNSIGNED_BODY_RESPONSE, "headers": dict(UNSIGNED_BODY_RESPONSE["headers"])}
    elif requested_version is not None and requested_version not in SUPPORTED_API_VERSIONS:
        supported = ", ".join(sorted(SUPPORTED_API_VERSIONS))
        response = _bad_request(
            "unsupported_version", f"Gatekey-Version '{requested_version}' is unknown; use one of: {supported}"
        )
    elif _sends_non_json_body(event):
        response = _bad_request(
            "unsupported_content_type", "send the body as JSON, with Content-Type: application/json"
        )
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
