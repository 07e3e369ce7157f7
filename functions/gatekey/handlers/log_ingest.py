"""Lambda entry point of log ingest: API Gateway's access log, delivered by a CloudWatch Logs subscription."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.domain.request_logs import RequestLogIngest
from gatekey.handlers import initialized
from gatekey.settings import StageSettings
from gatekey.storage.keys_repository import KeysRepository
from gatekey.storage.request_logs_repository import RequestLogsRepository
from gatekey.storage.tables import DIRECTORY_TABLE, KEYS_TABLE, REQUEST_LOGS_TABLE

logger = Logger()
metrics = Metrics()
settings = StageSettings.from_environment()
ingest = RequestLogIngest(
    RequestLogsRepository(REQUEST_LOGS_TABLE.name()),
    KeysRepository(KEYS_TABLE.name(), DIRECTORY_TABLE.name()),
    retention=timedelta(days=settings.log_retention_days),
)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=CloudWatchLogsEvent)
def lambda_handler(event: CloudWatchLogsEvent, context: LambdaContext) -> dict[str, Any]:
    delivery = event.parse_logs_data()
    report = ingest.ingest(log_event.message for log_event in delivery.log_events)
    metrics.add_metric(name="RequestsLogged", unit=MetricUnit.Count, value=report.stored)
    metrics.add_metric(name="MalformedLogLines", unit=MetricUnit.Count, value=report.malformed)
    metrics.add_metric(name="UnattributedRequests", unit=MetricUnit.Count, value=report.unattributed)
    if report.malformed:
        logger.warning("skipped malformed access-log lines", extra={"malformed": report.malformed})
    logger.info("access log ingested", extra={"log_group": delivery.log_group, **vars(report)})
    return vars(report)


initialized()
