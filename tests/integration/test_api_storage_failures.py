"""A storage failure behind the management API is a 503 in the error shape, never a crash or a 5xx page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.storage import aws
from tests.conftest import lambda_context

EVENTS = Path(__file__).resolve().parents[2] / "events"


def throttled(**_: Any) -> None:
    raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")


def api_event(caller: Caller, method: str, path: str, body: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "api_create_key.json").read_text())
    event.update(httpMethod=method, path=path, body=body)
    event["requestContext"]["authorizer"].update(keyId=caller.key_id, orgId=caller.org_id)
    return event


def test_directory_outage_on_me_is_503(lifecycle: KeyLifecycle, admin: Caller, monkeypatch: pytest.MonkeyPatch) -> None:
    from gatekey.handlers import api

    key, _ = lifecycle.create(admin, NewKey(label="me"))
    caller = Caller(key.key_id, admin.org_id, None, "main", admin.permissions)
    monkeypatch.setattr(aws.dynamodb_resource().meta.client, "get_item", throttled)
    response = api.lambda_handler(api_event(caller, "GET", "/v1/me"), lambda_context("api"))
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"]["code"] == "service_unavailable"


def test_idempotency_store_outage_is_503_and_creates_nothing(
    lifecycle: KeyLifecycle, admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gatekey.domain.api_keys import KeyFilter
    from gatekey.handlers import api

    def failing_put(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "PutItem")

    monkeypatch.setattr(aws.dynamodb_client(), "put_item", failing_put)
    event = api_event(admin, "POST", "/v1/keys", json.dumps({"label": "during outage"}))
    response = api.lambda_handler(event, lambda_context("api"))
    assert response["statusCode"] == 503
    assert lifecycle.list(admin, KeyFilter(), 50, None).keys == []
