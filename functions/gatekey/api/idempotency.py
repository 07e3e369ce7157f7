"""`Idempotency-Key` on POST (DESIGN §7): Powertools idempotency, with any secret in the stored reply sealed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api.errors import error_body
from gatekey.storage import aws
from gatekey.storage.sealing import seal, unseal
from gatekey.storage.tables import IDEMPOTENCY_TABLE

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # printable ASCII, no spaces
_VALID_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
ProxyResponse = dict[str, Any]
# Reply fields holding something shown only once: an API key's token, a connection token, an invitation link.
SECRET_FIELDS = ("secret", "connection_token", "invitation_url")


class _RetryableFailure(Exception):
    """A 5xx reply: not remembered, so a retry with the same key runs again."""

    def __init__(self, response: ProxyResponse) -> None:
        super().__init__("retryable failure")
        self.response = response


class SealedSecretSerializer(BaseIdempotencySerializer):
    """Stores the reply with its secret fields encrypted by KMS, bound to the idempotency scope."""

    def __init__(self, scope: str) -> None:
        self._context = {"purpose": "idempotent-reply", "scope": scope}

    def to_dict(self, data: ProxyResponse) -> dict[str, Any]:
        body = json.loads(data["body"] or "null")
        if isinstance(body, dict):
            for field in SECRET_FIELDS:
                if isinstance(body.get(field), str):
                    body[field] = {"sealed": seal(body[field], self._context)}
        return {**data, "body": json.dumps(body)}

    def from_dict(self, data: dict[str, Any]) -> ProxyResponse:
        body = json.loads(data["body"])
        if isinstance(body, dict):
            for field in SECRET_FIELDS:
                if isinstance(body.get(field), dict):
                    body[field] = unseal(body[field]["sealed"], self._context)
        return {**data, "body": json.dumps(body)}


@lru_cache(maxsize=1)
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE.name(), boto3_client=aws.dynamodb_client())


def _conflict(message: str) -> ProxyResponse:
    return {
        "statusCode": HTTPStatus.CONFLICT.value,
        "headers": {"Content-Type": "application/json"},
        "body": error_body("idempotency_conflict", message),
        "isBase64Encoded": False,
    }


def invalid_key_response() -> ProxyResponse:
    return {
        "statusCode": HTTPStatus.BAD_REQUEST.value,
        "headers": {"Content-Type": "application/json"},
        "body": error_body("invalid_idempotency_key", "Idempotency-Key must be 1-255 visible ASCII characters"),
        "isBase64Encoded": False,
    }


def is_valid_idempotency_key(value: str) -> bool:
    return bool(_VALID_KEY.fullmatch(value))


def resolve_once(
    event: dict[str, Any],
    context: LambdaContext,
    idempotency_key: str,
    resolve: Callable[[dict[str, Any], LambdaContext], ProxyResponse],
) -> ProxyResponse:
    """Run `resolve` at most once per (tenant, caller, path, key) within 24 h; replay its reply after."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    scope = "|".join([authorizer.get("orgId", ""), authorizer.get("keyId", ""), event.get("path", ""), idempotency_key])
    config = IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
    )
    config.register_lambda_context(context)

    @idempotent_function(
        data_keyword_argument="request",
        persistence_store=_persistence(),
        config=config,
        output_serializer=SealedSecretSerializer(scope),
    )
    def run(request: dict[str, Any]) -> ProxyResponse:
        response = resolve(event, context)
        if response["statusCode"] >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise _RetryableFailure(response)
        return response

    try:
        replied: ProxyResponse = run(request={"scope": scope, "body": event.get("body") or ""})
        return replied
    except _RetryableFailure as failure:
        return failure.response
    except IdempotencyValidationError:
        return _conflict("this Idempotency-Key was used with a different request body")
    except IdempotencyAlreadyInProgressError:
        return _conflict("a request with this Idempotency-Key is still in progress")
    except IdempotencyPersistenceLayerError:
        return {
            "statusCode": HTTPStatus.SERVICE_UNAVAILABLE.value,
            "headers": {"Content-Type": "application/json"},
            "body": error_body("service_unavailable", "storage is unavailable, try again"),
            "isBase64Encoded": False,
        }
