"""`gatekey serve`'s log shipping when log ingest fails: retried as Lambda retries, then kept, never dropped;
and `gatekey redrive-logs` replaying what was kept (moto's DynamoDB and SQS, the real log-ingest handler)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gatekey.domain.ids import new_id
from gatekey.local.events import ApiStage
from gatekey.local.log_shipping import AccessLogShipper
from gatekey.settings import log_ingest_failure_queue_name
from gatekey.storage import aws
from gatekey.storage.tables import REQUEST_LOGS_TABLE
from tests.conftest import lambda_context
from tests.integration.test_log_ingest import delivery, line, stored
from tests.integration.test_log_redrive import on_failure_record

GATEKEY = Path(sys.executable).parent / "gatekey"


@pytest.fixture
def failure_queue_url(storage_endpoint: str) -> str:
    return aws.sqs_client().create_queue(QueueName=f"shipping-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]


@pytest.fixture
def shipper(storage_endpoint: str, failure_queue_url: str) -> AccessLogShipper:
    from gatekey.handlers import log_ingest

    running = AccessLogShipper(
        log_ingest.lambda_handler, lambda: lambda_context("log_ingest"), ApiStage(stage="test"), failure_queue_url
    )
    running.start()
    return running


def _throttle_writes(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """A storage fault: the first `times` batch writes of request logs are throttled."""
    client = aws.dynamodb_resource().meta.client
    real = client.batch_write_item
    calls: list[int] = []

    def throttled(**arguments: Any) -> Any:
        calls.append(1)
        if len(calls) <= times:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "BatchWriteItem")
        return real(**arguments)

    monkeypatch.setattr(client, "batch_write_item", throttled)
    return calls


def _messages(queue_url: str) -> list[dict[str, Any]]:
    received = aws.sqs_client().receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in received]


def test_a_delivery_log_ingest_fails_on_is_retried_and_stored(
    shipper: AccessLogShipper, failure_queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id = new_id("org")
    _throttle_writes(monkeypatch, times=1)  # the first invocation fails
    shipper(line(org_id, new_id("key"), at=datetime.now(UTC)))
    shipper.flush()
    assert stored(org_id) == []
    shipper.stop()  # the retry that is due later runs now: stopping loses nothing
    assert len(stored(org_id)) == 1
    assert _messages(failure_queue_url) == []


def test_a_delivery_that_keeps_failing_is_kept_in_the_on_failure_queue(
    shipper: AccessLogShipper, failure_queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id = new_id("org")
    _throttle_writes(monkeypatch, times=1000)
    shipper(line(org_id, new_id("key"), at=datetime.now(UTC)))
    shipper.flush()
    shipper.stop()
    (record,) = _messages(failure_queue_url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # the first attempt and two retries
    assert "awslogs" in record["requestPayload"]
    assert stored(org_id) == []


def test_gatekey_redrive_logs_replays_the_local_stages_queue(storage_endpoint: str) -> None:
    org_id = new_id("org")
    record = on_failure_record(delivery([line(org_id, new_id("key"), at=datetime.now(UTC))]))
    queue_url = aws.sqs_client().create_queue(QueueName=log_ingest_failure_queue_name("local"))["QueueUrl"]
    aws.sqs_client().send_message(QueueUrl=queue_url, MessageBody=record)

    replay = [str(GATEKEY), "redrive-logs", "--stage", "local", "--storage-endpoint", storage_endpoint]
    result = subprocess.run(replay, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "Replayed 1 failed log deliveries of the local stage: 1 request-log entries stored" in result.stdout
    table = aws.dynamodb_resource().Table(REQUEST_LOGS_TABLE.physical_name("local"))
    items = table.query(KeyConditionExpression="org_id = :org", ExpressionAttributeValues={":org": org_id})["Items"]
    assert len(items) == 1
    again = subprocess.run(replay, capture_output=True, text=True, timeout=120, check=False)
    assert "Replayed 0 failed log deliveries" in again.stdout


def test_gatekey_redrive_logs_without_storage_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [str(GATEKEY), "redrive-logs", "--stage", "local", "--storage-endpoint", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot" in result.stderr and "Traceback" not in result.stderr
