"""Checks, behind the authorizer, that an HMAC-signed request's body is the one its signature covers (DESIGN §4).

API Gateway gives an authorizer no body, so the authorizer verifies the signature over the *declared*
digest and hands that digest on as `contentSha256`. Every backend behind Gatekey — the management API,
the demo store API, and a provider's own Lambda functions — must then check the body against it:

    from gatekey.body_integrity import require_signed_body      # Powertools event handler middleware
    app = APIGatewayRestResolver()
    app.use(middlewares=[require_signed_body])

or, without Powertools' resolver, `if not body_matches_signature(event): return UNSIGNED_BODY_RESPONSE`.
Bearer requests carry no digest and pass unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from gatekey.domain.signing import content_sha256, signatures_match

AUTHORIZER_CONTEXT_DIGEST = "contentSha256"
_ERROR_BODY = json.dumps(
    {
        "error": {
            "code": "body_digest_mismatch",
            "message": "the request body does not hash to the signed X-Gatekey-Content-SHA256",
        }
    }
)
UNSIGNED_BODY_RESPONSE: dict[str, Any] = {
    "statusCode": 401,
    "headers": {"Content-Type": "application/json"},
    "body": _ERROR_BODY,
    "isBase64Encoded": False,
}


def body_matches_signature(event: Mapping[str, Any]) -> bool:
    """False only for a signed request whose raw body does not hash to the digest the authorizer verified."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    declared = authorizer.get(AUTHORIZER_CONTEXT_DIGEST)
    if not declared:
        return True
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
    except (binascii.Error, ValueError):
        return False
    return signatures_match(content_sha256(raw), declared)


def require_signed_body(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Powertools middleware: 401 before any route runs if the body is not the signed one."""
    if not body_matches_signature(app.current_event.raw_event):
        return Response(status_code=401, content_type=content_types.APPLICATION_JSON, body=_ERROR_BODY)
    return next_middleware(app)
