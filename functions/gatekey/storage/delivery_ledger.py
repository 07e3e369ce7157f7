"""Which (event, webhook) pairs were delivered: Powertools idempotency records in the idempotency table, so a
retried or repeated delivery skips the webhooks that already took the event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.domain.errors import StorageUnavailableError
from gatekey.domain.webhook_delivery import WebhookFailedError
from gatekey.storage import aws

# Longer than every retry of one event: EventBridge retries a target for up to 24 h, Lambda for up to 6 h.
DELIVERY_MEMORY_SECONDS = 48 * 3600


class DeliveryLedger:
    def __init__(self, table_name: str) -> None:
        self._persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=aws.dynamodb_client())
        self._config = IdempotencyConfig(
            event_key_jmespath="[event_id, webhook_id]", expires_after_seconds=DELIVERY_MEMORY_SECONDS
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """A delivery cut short by the function's timeout must not look in progress once the invocation is over."""
        self._config.register_lambda_context(context)

    def __call__(self, event_id: str, webhook_id: str, send: Callable[[], None]) -> None:
        @idempotent_function(data_keyword_argument="delivery", persistence_store=self._persistence, config=self._config)
        def deliver(delivery: dict[str, str]) -> dict[str, Any]:
            send()
            return {"delivered": True}

        try:
            deliver(delivery={"event_id": event_id, "webhook_id": webhook_id})
        except IdempotencyAlreadyInProgressError as error:
            raise WebhookFailedError("another delivery of this event is under way") from error
        except IdempotencyPersistenceLayerError as error:
            raise StorageUnavailableError("storage is unavailable, try again") from error
