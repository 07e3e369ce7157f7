"""Replaying access-log deliveries log ingest failed on, from the queue Lambda put them in (nothing is lost).

CloudWatch Logs invokes log ingest asynchronously; after Lambda's retries a failed invocation goes to the
function's on-failure destination, an SQS queue kept 14 days. Replaying stores each request once: entries are
keyed by request time and request id, so a delivery that partly succeeded before it failed stores nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent

from gatekey.domain.request_logs import RequestLogIngest
from gatekey.storage.failed_deliveries import FailedDeliveryQueue


@dataclass(frozen=True)
class RedriveReport:
    deliveries: int  # replayed and removed from the queue
    stored: int  # request-log entries written by them
    unreadable: int  # messages that are not on-failure records of log ingest: left in the queue


def redrive_failed_deliveries(queue: FailedDeliveryQueue, ingest: RequestLogIngest) -> RedriveReport:
    """Replay every delivery in the queue; one that fails again (storage down) stops the run and stays queued."""
    deliveries = stored = unreadable = 0
    for delivery in queue:
        if delivery.subscription_event is None:
            unreadable += 1
            continue
        logs = CloudWatchLogsEvent(delivery.subscription_event).parse_logs_data()
        try:
            report = ingest.ingest(log_event.message for log_event in logs.log_events)
        except Exception:
            queue.release(delivery)  # at once, so the next run replays it without waiting out its hold
            raise
        queue.forget(delivery)
        deliveries += 1
        stored += report.stored
    return RedriveReport(deliveries, stored, unreadable)
