"""The queue of access-log deliveries log ingest failed on: Lambda's on-failure destination records, read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gatekey.storage import aws

# A message is hidden from other readers while it is replayed; one that fails to replay shows again after this.
REPLAY_VISIBILITY_SECONDS = 120


@dataclass(frozen=True)
class FailedDelivery:
    message_id: str
    receipt_handle: str
    subscription_event: dict[str, Any] | None  # the CloudWatch Logs event log ingest was invoked with


class FailedDeliveryQueue:
    def __init__(self, queue_url: str) -> None:
        self._queue_url = queue_url

    def __iter__(self) -> Iterator[FailedDelivery]:
        """Every message in the queue once, until a receive brings none new."""
        seen: set[str] = set()
        while True:
            messages = (
                aws.sqs_client()
                .receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=REPLAY_VISIBILITY_SECONDS,
                    WaitTimeSeconds=0,
                )
                .get("Messages", [])
            )
            fresh = [message for message in messages if message["MessageId"] not in seen]
            if not fresh:
                return
            for message in fresh:
                seen.add(message["MessageId"])
                yield FailedDelivery(message["MessageId"], message["ReceiptHandle"], _invocation_event(message["Body"]))

    def forget(self, delivery: FailedDelivery) -> None:
        """Remove a delivery that was replayed."""
        aws.sqs_client().delete_message(QueueUrl=self._queue_url, ReceiptHandle=delivery.receipt_handle)

    def release(self, delivery: FailedDelivery) -> None:
        """Make a delivery that failed to replay visible again at once."""
        aws.sqs_client().change_message_visibility(
            QueueUrl=self._queue_url, ReceiptHandle=delivery.receipt_handle, VisibilityTimeout=0
        )

    def keep(self, delivery: FailedDelivery, body: dict[str, Any]) -> None:
        """Put a delivery on the queue (the local runtime's failed deliveries, as Lambda would)."""
        aws.sqs_client().send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(body))


def _invocation_event(body: str) -> dict[str, Any] | None:
    """The event of an on-failure destination record (`requestPayload`), or None if the body is not one."""
    try:
        record = json.loads(body)
    except ValueError:
        return None
    payload = record.get("requestPayload") if isinstance(record, dict) else None
    if isinstance(payload, dict) and isinstance(payload.get("awslogs"), dict):
        return payload
    return None
