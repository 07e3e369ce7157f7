"""Lambda entry point of webhook delivery: the bus's rule hands it each domain event (DESIGN §8)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api.services import settings, webhook_registry
from gatekey.domain.events import DomainEvent
from gatekey.domain.webhook_delivery import DeliveryIncompleteError, WebhookDelivery
from gatekey.handlers import initialized
from gatekey.outbound import HttpWebhookSender
from gatekey.storage.delivery_ledger import DeliveryLedger
from gatekey.storage.sealing import KmsSealer
from gatekey.storage.tables import IDEMPOTENCY_TABLE

logger = Logger()
metrics = Metrics()
settings()  # a function deployed without its stage fails its cold start, not its first delivery


@lru_cache(maxsize=1)
def delivery() -> WebhookDelivery:
    stage = settings()
    return WebhookDelivery(
        webhook_registry(),
        KmsSealer(),
        HttpWebhookSender(stage.webhook_timeout_seconds),
        loopback_allowed=stage.loopback_webhooks_allowed,
    )


@lru_cache(maxsize=1)
def ledger() -> DeliveryLedger:
    return DeliveryLedger(IDEMPOTENCY_TABLE.name())


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    domain_event = DomainEvent.from_detail(event.detail)
    logger.append_keys(event_id=domain_event.event_id, event_type=domain_event.type, org_id=domain_event.org_id)
    ledger().register_lambda_context(context)
    try:
        report = delivery().deliver(domain_event, ledger())
    except DeliveryIncompleteError as incomplete:
        # Raised on: Lambda retries the event with backoff, then sends it to the dead-letter queue.
        metrics.add_metric(name="WebhookDeliveriesFailed", unit=MetricUnit.Count, value=len(incomplete.failures))
        logger.warning("webhook delivery incomplete", extra={"failures": incomplete.failures})
        raise
    metrics.add_metric(name="WebhooksDelivered", unit=MetricUnit.Count, value=report.delivered)
    return vars(report)


initialized()
