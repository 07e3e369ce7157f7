"""The management API: one resolver, one router per resource, and the conventions every reply follows."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api import (
    connections,
    console_pages,
    events,
    keys,
    logs,
    me,
    orgs,
    permissions,
    sessions,
    usage,
    users,
    webhooks,
)
from gatekey.api.errors import error_body, register_error_handlers
from gatekey.api.idempotency import invalid_key_response, is_valid_idempotency_key, resolve_once
from gatekey.api.openapi import complete_document
from gatekey.api.request_body import MalformedBodyError, canonical_request
from gatekey.body_integrity import UNSIGNED_BODY_RESPONSE, body_matches_signature
from gatekey.domain.authentication import header
from gatekey.http_conventions import with_version, without_body
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
app.include_router(sessions.router, prefix="/v1")
app.include_router(usage.router, prefix="/v1")
app.include_router(console_pages.router)


@app.get("/health", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> dict[str, Any]:
    generated = app.get_openapi_schema(title="Gatekey management API", version=API_VERSION)
    return complete_document(generated.model_dump(mode="json", by_alias=True, exclude_none=True))


def _bad_request(code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": HTTPStatus.BAD_REQUEST.value,
        "headers": {"Content-Type": "application/json"},
        "body": error_body(code, message),
        "isBase64Encoded": False,
    }


def _authorized(event: dict[str, Any]) -> bool:
    return bool(((event.get("requestContext") or {}).get("authorizer") or {}).get("keyId"))


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve one API Gateway proxy event: versioning, the one body-parsing path, idempotency, then the routes."""
    return with_version(_answer(event, context))


def _answer(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = event.get("headers")
    requested_version = header(headers, "Gatekey-Version")
    idempotency_key = header(headers, "Idempotency-Key")
    if not body_matches_signature(event):  # on the raw body, and before idempotency: never remember a tampered one
        return {**UNSIGNED_BODY_RESPONSE, "headers": dict(UNSIGNED_BODY_RESPONSE["headers"])}
    if requested_version is not None and requested_version not in SUPPORTED_API_VERSIONS:
        supported = ", ".join(sorted(SUPPORTED_API_VERSIONS))
        return _bad_request(
            "unsupported_version", f"Gatekey-Version '{requested_version}' is unknown; use one of: {supported}"
        )
    try:
        event = canonical_request(event)
    except MalformedBodyError as error:
        return _bad_request(error.code, error.message)
    if event.get("httpMethod") == "HEAD":
        return without_body(app.resolve({**event, "httpMethod": "GET"}, context))
    # Replies are remembered per calling key: a public route (sign-in) has none, and its reply sets a cookie.
    if idempotency_key is not None and event.get("httpMethod") == "POST" and _authorized(event):
        if not is_valid_idempotency_key(idempotency_key):
            return invalid_key_response()
        return resolve_once(event, context, idempotency_key, app.resolve)
    return app.resolve(event, context)
