"""Every sample event in events/ is accepted by its handler and answered as a user would expect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gatekey.domain.key_lifecycle import Caller
from tests.conftest import lambda_context

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def test_health_sample(storage_endpoint: str) -> None:
    from gatekey.handlers import api

    response = api.lambda_handler(load("api_health.json"), lambda_context("sample"))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}


def test_create_key_sample_creates_a_key_in_the_callers_org(admin: Caller) -> None:
    from gatekey.handlers import api

    event = load("api_create_key.json")
    event["requestContext"]["authorizer"]["orgId"] = admin.org_id
    response = api.lambda_handler(event, lambda_context("sample"))
    assert response["statusCode"] == 201, response["body"]
    assert json.loads(response["body"])["org_id"] == admin.org_id


def test_store_demo_sample_echoes_the_caller() -> None:
    from gatekey.handlers import store_demo

    response = store_demo.lambda_handler(load("store_demo_list_products.json"), lambda_context("sample"))
    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert body["key_id"] == "key_7QqK3mZ1xR8vT2wY5nB0cD"
    assert body["resource"] == "products"


def test_authorizer_sample_with_the_design_vector_is_unknown_key_401(storage_endpoint: str) -> None:
    from gatekey.handlers import authorizer

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(load("authorizer_bearer_request.json"), lambda_context("sample"))


def test_authorizer_hmac_sample_carries_every_query_value_and_is_stale_401(storage_endpoint: str) -> None:
    from gatekey.handlers import authorizer

    event = load("authorizer_hmac_request.json")
    assert event["multiValueQueryStringParameters"]["color"] == ["red", "blue"]
    assert event["path"] == "/products/caf%C3%A9%20x"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(event, lambda_context("sample"))


def test_store_demo_signed_sample_passes_the_body_check_and_fails_with_another_body() -> None:
    from gatekey.handlers import store_demo

    event = load("store_demo_signed_create_product.json")
    assert store_demo.lambda_handler(event, lambda_context("sample"))["statusCode"] == 201
    event["body"] = event["body"].replace("lamp", "lamP")
    refused = store_demo.lambda_handler(event, lambda_context("sample"))
    assert refused["statusCode"] == 401
    assert json.loads(refused["body"])["error"]["code"] == "body_digest_mismatch"


def test_log_ingest_sample_stores_the_two_requests_of_an_org_and_skips_the_401(storage_endpoint: str) -> None:
    from gatekey.handlers import log_ingest

    report = log_ingest.lambda_handler(load("log_ingest_access_log_delivery.json"), lambda_context("sample"))
    assert report == {"stored": 2, "malformed": 0, "unattributed": 1, "keys_touched": 1}


def test_scheduler_sample_runs_the_schedule_as_of_its_time(storage_endpoint: str) -> None:
    from gatekey.handlers import scheduler

    report = scheduler.lambda_handler(load("scheduler_scheduled_run.json"), lambda_context("sample"))
    assert set(report) == {"rotated", "expiry_notices", "expired", "quota_notices", "failed"}
    assert report["failed"] == 0


def test_webhooks_sample_is_an_event_of_an_org_without_webhooks_so_nothing_is_sent(storage_endpoint: str) -> None:
    from gatekey.handlers import webhooks

    report = webhooks.lambda_handler(load("webhooks_user_created.json"), lambda_context("sample"))
    assert report == {"subscribed": 0, "delivered": 0}
