"""Embedded DynamoDB and KMS: moto's server on a free loopback port, with Gatekey's tables created in it."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from gatekey.settings import event_bus_name, log_ingest_failure_queue_name
from gatekey.storage import aws
from gatekey.storage.event_bus import DELIVERY_EVENT_PATTERN
from gatekey.storage.sealing import KMS_KEY_ENV_VAR, SECRET_MAC_KEY_ENV_VAR, kms_alias, secret_mac_alias
from gatekey.storage.tables import ALL_TABLES

LOCAL_REGION = "us-east-1"
# moto accepts any credentials; these only keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "gatekey-local", "AWS_SECRET_ACCESS_KEY": "gatekey-local"}


class EmbeddedAws:
    """moto's DynamoDB and KMS behind a threaded WSGI server on 127.0.0.1, on a port the OS picks.

    moto's backends are not thread-safe: two concurrent conditional writes can both pass their
    condition. DynamoDB applies each request atomically, so requests are applied one at a time here.
    """

    def __init__(self) -> None:
        # Imported here: only the local runtime and tests need moto.
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per storage call
        moto_app = DomainDispatcherApplication(create_backend_app)
        one_at_a_time = threading.Lock()

        def atomic_app(environ: dict[str, Any], start_response: Any) -> Any:
            with one_at_a_time:
                return list(moto_app(environ, start_response))

        self._server = make_server("127.0.0.1", 0, atomic_app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)

    def start(self) -> str:
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


def point_at_storage(endpoint_url: str, table_names: Mapping[str, str]) -> None:
    """Configure this process the way a deployed function is configured, but against `endpoint_url`."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    os.environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ.update(table_names)
    aws.reset_clients()


def create_missing_tables(table_names: Mapping[str, str]) -> None:
    """Create every table from the shared definitions unless it exists already."""
    client = aws.dynamodb_client()
    existing = set(client.list_tables()["TableNames"])
    for table in ALL_TABLES:
        name = table_names[table.env_var]
        if name in existing:
            continue
        client.create_table(**table.create_table_arguments(name))
        client.get_waiter("table_exists").wait(TableName=name)
        if table.ttl_attribute:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
            )


def ensure_kms_keys(stage: str) -> None:
    """The stage's two KMS keys, created on first use and exported for the functions, as the stack makes them:
    the key that seals secrets, and the HMAC key that peppers API-key secret hashes."""
    os.environ[KMS_KEY_ENV_VAR] = _kms_key(kms_alias(stage), "Gatekey local secrets", {})
    os.environ[SECRET_MAC_KEY_ENV_VAR] = _kms_key(
        secret_mac_alias(stage),
        "Gatekey local pepper of API-key secrets",
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
    )


def _kms_key(alias_name: str, description: str, kind: Mapping[str, str]) -> str:
    kms = aws.kms_client()
    try:
        return kms.describe_key(KeyId=alias_name)["KeyMetadata"]["KeyId"]
    except ClientError:
        key_id = kms.create_key(Description=description, **kind)["KeyMetadata"]["KeyId"]  # type: ignore[arg-type]
        kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)
        return key_id


@dataclass(frozen=True)
class EventRouting:
    """The local stand-in for the stack's bus → rule → webhook function: the rule's target is a queue that
    `gatekey serve` drains into the webhook handler, and what still fails goes to the dead-letter queue."""

    bus_name: str
    delivery_queue_url: str
    dead_letter_queue_url: str


def ensure_event_routing(stage: str) -> EventRouting:
    """The stage's event bus, its delivery rule and both queues, created where missing (moto's EventBridge and SQS)."""
    events = aws.events_client()
    sqs = boto3.client("sqs")
    bus_name = event_bus_name(stage)
    if bus_name not in {bus["Name"] for bus in events.list_event_buses(NamePrefix=bus_name)["EventBuses"]}:
        events.create_event_bus(Name=bus_name)
    delivery_queue_url = sqs.create_queue(QueueName=f"gatekey-{stage}-webhook-deliveries")["QueueUrl"]
    dead_letter_queue_url = sqs.create_queue(QueueName=f"gatekey-{stage}-webhook-dead-letters")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=delivery_queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule_name = f"gatekey-{stage}-webhook-delivery"
    events.put_rule(Name=rule_name, EventBusName=bus_name, EventPattern=json.dumps(DELIVERY_EVENT_PATTERN))
    events.put_targets(Rule=rule_name, EventBusName=bus_name, Targets=[{"Id": "webhook-delivery", "Arn": queue_arn}])
    return EventRouting(bus_name, delivery_queue_url, dead_letter_queue_url)


def ensure_log_ingest_failure_queue(stage: str) -> str:
    """The URL of log ingest's on-failure queue, created where missing (the stack creates it in AWS)."""
    return aws.sqs_client().create_queue(QueueName=log_ingest_failure_queue_name(stage))["QueueUrl"]
