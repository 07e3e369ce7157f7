"""Embedded DynamoDB and KMS: moto's server on a free loopback port, with Gatekey's tables created in it."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from gatekey.domain.plans import Plans, QuotaPeriod, usage_plan_names
from gatekey.settings import event_bus_name, log_ingest_failure_queue_name
from gatekey.storage import aws
from gatekey.storage.event_bus import DELIVERY_EVENT_PATTERN
from gatekey.storage.sealing import KMS_KEY_ENV_VAR, SECRET_MAC_KEY_ENV_VAR, kms_alias, secret_mac_alias
from gatekey.storage.tables import ALL_TABLES

if TYPE_CHECKING:
    from mypy_boto3_apigateway.literals import QuotaPeriodTypeType
    from mypy_boto3_apigateway.type_defs import (
        CreateUsagePlanRequestTypeDef,
        PatchOperationTypeDef,
        QuotaSettingsTypeDef,
        ThrottleSettingsTypeDef,
    )

LOCAL_REGION = "us-east-1"
# moto accepts any credentials; these only keep boto3 from looking for real ones.
# The embedded store may be busy for seconds on a loaded machine where DynamoDB never is (storage/aws.py).
LOCAL_READ_TIMEOUT_SECONDS = 30
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
    os.environ.setdefault(aws.READ_TIMEOUT_ENV_VAR, str(LOCAL_READ_TIMEOUT_SECONDS))
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


def ensure_usage_plans(stage: str, plans: Plans) -> dict[str, str]:
    """Each plan's two usage plans on the stage (the protected APIs', Gatekey's API's), usage plan name -> id, as
    the construct makes them: created where missing, given the configured throttle and quota where they differ (a
    store kept from an earlier run)."""
    client = aws.apigateway_client()
    existing = {
        usage_plan["name"]: usage_plan
        for page in client.get_paginator("get_usage_plans").paginate()
        for usage_plan in page.get("items", [])
        if "name" in usage_plan
    }
    ids: dict[str, str] = {}
    every = [(plans[name], usage_plan) for name in plans.names() for usage_plan in usage_plan_names(stage, name)]
    for plan, usage_plan in every:
        throttle: ThrottleSettingsTypeDef = {"rateLimit": plan.rate, "burstLimit": plan.burst}
        quota: QuotaSettingsTypeDef | None = (
            {"limit": plan.quota.limit, "period": _QUOTA_PERIODS[plan.quota.period]} if plan.quota else None
        )
        found = existing.get(usage_plan)
        if found is None:
            request: CreateUsagePlanRequestTypeDef = {"name": usage_plan, "throttle": throttle}
            if quota is not None:
                request["quota"] = quota
            ids[usage_plan] = client.create_usage_plan(**request)["id"]
            continue
        ids[usage_plan] = found["id"]
        wanted, current = _patch_values(throttle, quota), _patch_values(found.get("throttle"), found.get("quota"))
        changes: list[PatchOperationTypeDef] = [
            {"op": "replace", "path": path, "value": value}
            for path, value in wanted.items()
            if current.get(path) != value
        ]
        if quota is None and found.get("quota"):
            changes.append({"op": "remove", "path": "/quota"})
        if changes:
            client.update_usage_plan(usagePlanId=found["id"], patchOperations=changes)
    return ids


_QUOTA_PERIODS: dict[QuotaPeriod, QuotaPeriodTypeType] = {"day": "DAY", "week": "WEEK", "month": "MONTH"}


def _patch_values(throttle: ThrottleSettingsTypeDef | None, quota: QuotaSettingsTypeDef | None) -> dict[str, str]:
    """A usage plan's limits as the paths and values of a patch, to compare one with another."""
    values = {f"/throttle/{field}": f"{value:g}" for field, value in (throttle or {}).items()}
    values.update({f"/quota/{field}": str(value) for field, value in (quota or {}).items() if field != "offset"})
    return values
