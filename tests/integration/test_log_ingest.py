"""The log-ingest Lambda on CloudWatch Logs subscription payloads shaped like AWS's sample (events/aws/), on moto."""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gatekey.domain.clock import to_iso
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.domain.request_logs import LogFilter
from gatekey.local.events import ApiStage, HttpRequest, access_log_line
from gatekey.settings import STAGES
from gatekey.storage import aws
from gatekey.storage.request_logs_repository import RequestLogsRepository
from gatekey.storage.tables import REQUEST_LOGS_TABLE
from tests.aws_samples import AWS_EVENTS
from tests.conftest import lambda_context

SAMPLE = AWS_EVENTS / "cloudWatchLogEvent.json"
API = ApiStage(stage="test")


@pytest.fixture
def log_ingest(storage_endpoint: str) -> Any:
    from gatekey.handlers import log_ingest

    return log_ingest


def line(
    org_id: str | None,
    key_id: str | None,
    *,
    at: datetime,
    status: int = 200,
    method: str = "GET",
    path: str = "/products",
    request_id: str | None = None,
) -> str:
    """An access-log line as the stage writes it (the local gateway renders the stage's one format)."""
    context = {"keyId": key_id, "orgId": org_id} if org_id else None
    http = HttpRequest(method, path, "", (("User-Agent", "curl/8"),), b"", "198.51.100.4")
    return access_log_line(
        http,
        api=API,
        request_id=request_id or new_id("req"),
        received_at=at,
        resource_path="/{proxy+}",
        status=status,
        latency_ms=7,
        authorizer_context=context,
    )


def delivery(messages: list[str]) -> dict[str, Any]:
    """AWS's sample event with its log events replaced by `messages`, encoded as CloudWatch Logs does."""
    sample = json.loads(SAMPLE.read_text())
    payload = json.loads(gzip.decompress(base64.b64decode(sample["awslogs"]["data"])))
    now_ms = int(time.time() * 1000)
    payload["logEvents"] = [
        {"id": str(index), "timestamp": now_ms, "message": message} for index, message in enumerate(messages)
    ]
    sample["awslogs"]["data"] = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    return sample


def stored(org_id: str) -> list[dict[str, Any]]:
    table = aws.dynamodb_resource().Table(REQUEST_LOGS_TABLE.name())
    items: list[dict[str, Any]] = table.query(
        KeyConditionExpression="org_id = :org", ExpressionAttributeValues={":org": org_id}
    )["Items"]
    return items


def test_the_aws_sample_as_is_is_skipped_and_counted_not_failed(log_ingest: Any) -> None:
    report = log_ingest.lambda_handler(json.loads(SAMPLE.read_text()), lambda_context("log_ingest"))
    assert report == {"stored": 0, "malformed": 2, "unattributed": 0, "keys_touched": 0}


def test_lines_become_entries_of_their_org_with_every_field_and_a_ttl(log_ingest: Any, admin: Caller) -> None:
    at = datetime.now(UTC).replace(microsecond=123000)
    request_id = new_id("req")
    report = log_ingest.lambda_handler(
        delivery([line(admin.org_id, "key_x", at=at, status=201, method="POST", request_id=request_id)]),
        lambda_context("log_ingest"),
    )
    assert report["stored"] == 1
    (item,) = stored(admin.org_id)
    assert item["request_id"] == request_id
    assert (item["key_id"], item["method"], item["path"], int(item["status"])) == ("key_x", "POST", "/products", 201)
    assert (int(item["latency_ms"]), item["ip"], item["user_agent"]) == (7, "198.51.100.4", "curl/8")
    assert item["timestamp"] == to_iso(at)
    retention = timedelta(days=STAGES["local"].log_retention_days)
    assert int(item["expires_at"]) == int((at + retention).timestamp())


def test_malformed_lines_are_skipped_and_the_rest_stored(log_ingest: Any, admin: Caller) -> None:
    now = datetime.now(UTC)
    good = [line(admin.org_id, "key_x", at=now), line(admin.org_id, "key_x", at=now)]
    bad = ["not json", json.dumps({"requestId": "r1"}), json.dumps({**json.loads(good[0]), "status": "abc"}), "[]"]
    report = log_ingest.lambda_handler(delivery([bad[0], good[0], *bad[1:], good[1]]), lambda_context("log_ingest"))
    assert (report["stored"], report["malformed"]) == (2, 4)
    assert len(stored(admin.org_id)) == 2


def test_requests_without_a_valid_key_belong_to_no_org(log_ingest: Any, admin: Caller) -> None:
    now = datetime.now(UTC)
    report = log_ingest.lambda_handler(
        delivery([line(None, None, at=now, status=401), line(admin.org_id, "key_x", at=now, status=403)]),
        lambda_context("log_ingest"),
    )
    assert (report["stored"], report["unattributed"]) == (1, 1)
    assert [int(item["status"]) for item in stored(admin.org_id)] == [403]


def test_a_batch_delivered_twice_is_stored_once(log_ingest: Any, admin: Caller) -> None:
    now = datetime.now(UTC)
    event = delivery([line(admin.org_id, "key_x", at=now + timedelta(milliseconds=i)) for i in range(30)])
    log_ingest.lambda_handler(event, lambda_context("log_ingest"))
    log_ingest.lambda_handler(event, lambda_context("log_ingest"))
    assert len(stored(admin.org_id)) == 30


def test_writes_are_batched_and_last_use_is_noted_once_per_key(
    log_ingest: Any, lifecycle: KeyLifecycle, admin: Caller, aws_calls: list[str]
) -> None:
    first, _ = lifecycle.create(admin, NewKey(label="one"))
    second, _ = lifecycle.create(admin, NewKey(label="two"))
    now = datetime.now(UTC)
    lines = [line(admin.org_id, (first, second)[i % 2].key_id, at=now - timedelta(seconds=i)) for i in range(60)]
    aws_calls.clear()
    log_ingest.lambda_handler(delivery(lines), lambda_context("log_ingest"))
    assert aws_calls.count("dynamodb:BatchWriteItem") == 3  # ceil(60 / 25)
    assert aws_calls.count("dynamodb:UpdateItem") == 2
    assert set(aws_calls) == {"dynamodb:BatchWriteItem", "dynamodb:UpdateItem"}
    assert lifecycle.get(admin, first.key_id).last_used_at == now.replace(microsecond=now.microsecond // 1000 * 1000)


def test_last_used_never_moves_backwards(log_ingest: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    key, _ = lifecycle.create(admin, NewKey(label="k"))
    newer = datetime.now(UTC).replace(microsecond=0)
    log_ingest.lambda_handler(delivery([line(admin.org_id, key.key_id, at=newer)]), lambda_context("log_ingest"))
    older = newer - timedelta(minutes=5)
    log_ingest.lambda_handler(delivery([line(admin.org_id, key.key_id, at=older)]), lambda_context("log_ingest"))
    assert lifecycle.get(admin, key.key_id).last_used_at == newer


def test_unprocessed_items_are_sent_again(log_ingest: Any, admin: Caller, monkeypatch: pytest.MonkeyPatch) -> None:
    client = aws.dynamodb_resource().meta.client
    real_batch_write = client.batch_write_item
    calls: list[int] = []

    def throttle_half_the_first_call(**arguments: Any) -> Any:
        """DynamoDB under pressure: the first call stores half and hands the rest back as unprocessed."""
        calls.append(1)
        if len(calls) > 1:
            return real_batch_write(**arguments)
        ((table_name, requests),) = arguments["RequestItems"].items()
        half = len(requests) // 2
        real_batch_write(RequestItems={table_name: requests[:half]})
        return {"UnprocessedItems": {table_name: requests[half:]}}

    monkeypatch.setattr(client, "batch_write_item", throttle_half_the_first_call)
    now = datetime.now(UTC)
    log_ingest.lambda_handler(
        delivery([line(admin.org_id, "key_x", at=now + timedelta(milliseconds=i)) for i in range(20)]),
        lambda_context("log_ingest"),
    )
    assert len(calls) >= 2
    assert len(stored(admin.org_id)) == 20


def test_reading_skips_entries_past_retention_that_ttl_has_not_deleted(log_ingest: Any, admin: Caller) -> None:
    from gatekey.api import services

    now = datetime.now(UTC)
    retention = timedelta(days=STAGES["local"].log_retention_days)
    old, recent = now - retention - timedelta(hours=1), now - retention + timedelta(hours=1)
    log_ingest.lambda_handler(
        delivery([line(admin.org_id, "key_x", at=old), line(admin.org_id, "key_x", at=recent)]),
        lambda_context("log_ingest"),
    )
    assert len(stored(admin.org_id)) == 2  # both still in the table
    entries, _ = services.request_log_reader().list(admin.org_id, LogFilter(), 50, None)
    assert [entry.timestamp.replace(microsecond=0) for entry in entries] == [recent.replace(microsecond=0)]
    reader = RequestLogsRepository(REQUEST_LOGS_TABLE.name())
    unclipped, _ = reader.list_for_org(admin.org_id, LogFilter(since=old - timedelta(days=1)), 50, None)
    assert len(unclipped) == 2
