"""The webhook-delivery Lambda against moto and real HTTP receivers on loopback: the event comes off the bus's rule
(moto's EventBridge → SQS target), as EventBridge hands it to the function."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from gatekey.api import services
from gatekey.domain.events import DomainEvent
from gatekey.domain.key_lifecycle import Caller
from gatekey.domain.webhook_delivery import DeliveryIncompleteError, WebhookDelivery
from gatekey.outbound import HttpWebhookSender
from gatekey.storage import aws
from gatekey.storage.sealing import KmsSealer
from gatekey.storage.tables import EVENTS_TABLE
from tests.conftest import lambda_context
from tests.webhook_receiver import Receiver, signature_is_valid


@pytest.fixture
def webhooks_handler(storage_endpoint: str) -> Any:
    from gatekey.handlers import webhooks

    return webhooks


def routed_event(event_id: str) -> dict[str, Any]:
    """The EventBridge event the bus's delivery rule sent to its target for `event_id`."""
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName="gatekey-local-webhook-deliveries")["QueueUrl"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            event: dict[str, Any] = json.loads(message["Body"])
            if event["detail"]["id_event"] == event_id:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                return event
    raise AssertionError(f"the bus did not route {event_id}")


def latest_event(org_id: str, event_type: str) -> DomainEvent:
    events, _ = services.event_history().list(org_id, event_type, 1, None)  # type: ignore[arg-type]
    return events[0]


def test_connection_created_reaches_the_webhook_signed_with_the_token_in_data(
    webhooks_handler: Any, admin: Caller, receiver: Receiver
) -> None:
    _, secret = services.webhook_registry().create(admin, receiver.url, ["connection.created"])
    connection, token = services.connection_service().create(admin, "hubspot", "eu_7")
    event_id = latest_event(admin.org_id, "connection.created").event_id

    event = routed_event(event_id)
    assert event["source"] == "gatekey" and event["detail-type"] == "connection.created"
    assert token not in json.dumps(event), "the bus carries the token sealed"
    report = webhooks_handler.lambda_handler(event, lambda_context("webhooks"))

    assert report == {"subscribed": 1, "delivered": 1}
    ((headers, body),) = receiver.requests
    assert headers["Gatekey-Event-Id"] == event_id
    assert headers["Gatekey-Event-Type"] == "connection.created"
    assert signature_is_valid(secret, headers, body)
    envelope = json.loads(body)
    assert set(envelope) == {"id_event", "type", "created_at", "org_id", "data"}
    assert envelope["org_id"] == admin.org_id
    assert envelope["data"] == {
        "id": connection.connection_id,
        "connection_token": token,
        "provider_slug": "hubspot",
        "end_user_id": "eu_7",
        "org_id": admin.org_id,
        "created_at": envelope["created_at"],
        "created_by": admin.user_id,
    }
    stored = (
        aws.dynamodb_resource()
        .Table(EVENTS_TABLE.name())
        .query(KeyConditionExpression="org_id = :org", ExpressionAttributeValues={":org": admin.org_id})["Items"]
    )
    assert stored and token not in json.dumps(stored, default=str), "the journal keeps the token sealed"


def test_only_subscribed_webhooks_of_the_events_org_are_sent_it(
    webhooks_handler: Any, admin: Caller, receiver: Receiver
) -> None:
    services.webhook_registry().create(admin, receiver.url, ["user.deleted"])
    services.connection_service().create(admin, "hubspot", "eu_8")
    event = routed_event(latest_event(admin.org_id, "connection.created").event_id)
    assert webhooks_handler.lambda_handler(event, lambda_context("webhooks")) == {"subscribed": 0, "delivered": 0}
    assert receiver.requests == []


def test_a_failing_webhook_fails_the_delivery_and_the_retry_spares_the_webhook_that_got_it(
    webhooks_handler: Any, admin: Caller, receiver: Receiver
) -> None:
    registry = services.webhook_registry()
    registry.create(admin, receiver.url + "?webhook=first", ["*"])
    registry.create(admin, receiver.url + "?webhook=second", ["*"])
    receiver.statuses = [200, 500]  # the first webhook takes the event, the second refuses it
    services.connection_service().create(admin, "hubspot", "eu_9")
    event = routed_event(latest_event(admin.org_id, "connection.created").event_id)

    with pytest.raises(DeliveryIncompleteError, match="answered 500"):
        webhooks_handler.lambda_handler(event, lambda_context("webhooks"))
    webhooks_handler.lambda_handler(event, lambda_context("webhooks"))  # Lambda's retry: the second now takes it

    own_path = urlsplit(receiver.url).path
    first, second = f"{own_path}?webhook=first", f"{own_path}?webhook=second"
    assert receiver.paths == [first, second, second], "each webhook once, then a retry of the failed one only"
    assert {json.loads(body)["id_event"] for _, body in receiver.requests} == {event["detail"]["id_event"]}


def test_a_receiver_slower_than_the_timeout_fails_the_delivery(admin: Caller, receiver: Receiver) -> None:
    services.webhook_registry().create(admin, receiver.url, ["connection.created"])
    services.connection_service().create(admin, "hubspot", "eu_10")
    event = latest_event(admin.org_id, "connection.created")
    receiver.delay_seconds = 1.0
    delivery = WebhookDelivery(
        services.webhook_registry(), KmsSealer(), HttpWebhookSender(timeout_seconds=0.3), loopback_allowed=True
    )

    with pytest.raises(DeliveryIncompleteError, match="timed out"):
        delivery.deliver(event, lambda event_id, webhook_id, send: send())


def test_delivery_checks_the_address_again_and_refuses_loopback_in_a_deployed_stage(
    admin: Caller, receiver: Receiver
) -> None:
    services.webhook_registry().create(admin, receiver.url, ["*"])  # allowed locally when registered
    services.connection_service().create(admin, "hubspot", "eu_11")
    event = latest_event(admin.org_id, "connection.created")
    deployed = WebhookDelivery(
        services.webhook_registry(), KmsSealer(), HttpWebhookSender(timeout_seconds=1), loopback_allowed=False
    )

    with pytest.raises(DeliveryIncompleteError, match="public address"):
        deployed.deliver(event, lambda event_id, webhook_id, send: send())
    assert receiver.requests == []
