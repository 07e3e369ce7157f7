"""Replaying the on-failure queue of log ingest into the request-logs table, against moto's SQS and DynamoDB."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gatekey.domain.errors import StorageUnavailableError
from gatekey.domain.ids import new_id
from gatekey.domain.request_logs import RequestLogIngest
from gatekey.log_redrive import redrive_failed_deliveries
from gatekey.storage import aws
from gatekey.storage.failed_deliveries import FailedDeliveryQueue
from gatekey.storage.keys_repository import KeysRepository
from gatekey.storage.request_logs_repository import RequestLogsRepository
from gatekey.storage.tables import DIRECTORY_TABLE, KEYS_TABLE, REQUEST_LOGS_TABLE
from tests.integration.test_log_ingest import delivery, line, stored


def on_failure_record(event: dict[str, Any]) -> str:
    """What Lambda sends an asynchronous invocation's on-failure destination after its last retry."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:gatekey-test-log-ingest:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "storage is unavailable, try again"},
        }
    )


@pytest.fixture
def queue_url(storage_endpoint: str) -> str:
    return aws.sqs_client().create_queue(QueueName=f"log-ingest-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]


@pytest.fixture
def ingest(storage_endpoint: str) -> RequestLogIngest:
    return RequestLogIngest(
        RequestLogsRepository(REQUEST_LOGS_TABLE.name()),
        KeysRepository(KEYS_TABLE.name(), DIRECTORY_TABLE.name()),
        retention=timedelta(days=30),
    )


def _queued(queue_url: str) -> int:
    attributes = aws.sqs_client().get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_failed_deliveries_are_replayed_once_and_leave_the_queue(queue_url: str, ingest: RequestLogIngest) -> None:
    org_id, key_id, now = new_id("org"), new_id("key"), datetime.now(UTC)
    first = [line(org_id, key_id, at=now - timedelta(seconds=3 - i)) for i in range(3)]
    second = [line(org_id, key_id, at=now, status=403), line(None, None, at=now, status=401)]
    sqs = aws.sqs_client()
    for lines in (first, second):
        sqs.send_message(QueueUrl=queue_url, MessageBody=on_failure_record(delivery(lines)))
    sqs.send_message(QueueUrl=queue_url, MessageBody="not a record of log ingest")

    report = redrive_failed_deliveries(FailedDeliveryQueue(queue_url), ingest)

    assert (report.deliveries, report.stored, report.unreadable) == (2, 4, 1)
    assert sorted(int(item["status"]) for item in stored(org_id)) == [200, 200, 200, 403]
    assert _queued(queue_url) == 1


def test_replaying_the_same_delivery_again_stores_nothing_twice(queue_url: str, ingest: RequestLogIngest) -> None:
    org_id, now = new_id("org"), datetime.now(UTC)
    record = on_failure_record(delivery([line(org_id, new_id("key"), at=now), line(org_id, new_id("key"), at=now)]))
    for _ in range(2):  # Lambda delivers at least once: the same record may be queued twice
        aws.sqs_client().send_message(QueueUrl=queue_url, MessageBody=record)
    report = redrive_failed_deliveries(FailedDeliveryQueue(queue_url), ingest)
    assert (report.deliveries, report.stored) == (2, 4)
    assert len(stored(org_id)) == 2
    assert _queued(queue_url) == 0


def test_a_replay_cut_short_by_storage_keeps_the_delivery_for_the_next_run(
    queue_url: str, ingest: RequestLogIngest, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id = new_id("org")
    record = on_failure_record(delivery([line(org_id, new_id("key"), at=datetime.now(UTC))]))
    aws.sqs_client().send_message(QueueUrl=queue_url, MessageBody=record)
    table = aws.dynamodb_resource().meta.client

    def throttled(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "BatchWriteItem")

    with monkeypatch.context() as patched:
        patched.setattr(table, "batch_write_item", throttled)
        with pytest.raises((ClientError, StorageUnavailableError)):
            redrive_failed_deliveries(FailedDeliveryQueue(queue_url), ingest)
    assert _queued(queue_url) == 1 and stored(org_id) == []

    report = redrive_failed_deliveries(FailedDeliveryQueue(queue_url), ingest)
    assert report.deliveries == 1 and len(stored(org_id)) == 1
