"""Lambda entry point of the scheduler: an EventBridge schedule fires it; "now" is the event's `time` (DESIGN §9)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api.services import scheduled_work, settings
from gatekey.domain.clock import from_iso
from gatekey.domain.scheduled_work import ScheduledWorkIncompleteError
from gatekey.handlers import initialized

logger = Logger()
metrics = Metrics()
settings()  # a function deployed without its stage fails its cold start, not its first run


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    report = scheduled_work().run(from_iso(event.time))
    metrics.add_metric(name="KeysRotated", unit=MetricUnit.Count, value=report.rotated)
    metrics.add_metric(name="ExpiryNoticesSent", unit=MetricUnit.Count, value=report.expiry_notices)
    metrics.add_metric(name="KeysExpired", unit=MetricUnit.Count, value=report.expired)
    metrics.add_metric(name="QuotaExhaustedNotices", unit=MetricUnit.Count, value=report.quota_notices)
    metrics.add_metric(name="ScheduledWorkFailed", unit=MetricUnit.Count, value=report.failed)
    logger.info("scheduled run finished", extra={"now": event.time, **vars(report)})
    if report.failed:
        raise ScheduledWorkIncompleteError(f"the work on {report.failed} keys failed; see the log")
    return vars(report)


initialized()
