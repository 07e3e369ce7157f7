"""boto3 clients, made once per process; `AWS_ENDPOINT_URL` points them at a local moto server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gatekey.domain.errors import StorageUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_dynamodb import DynamoDBClient, DynamoDBServiceResource
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sqs import SQSClient

# Fail fast: a Lambda waiting out botocore's default 60 s on a stuck call helps nobody. `gatekey serve`'s embedded
# store is one Python process doing every table's work in turn (its queries read whole tables), which a busy laptop
# or test machine can keep for seconds: the local runtime sets a longer wait (`READ_TIMEOUT_ENV_VAR`).
READ_TIMEOUT_ENV_VAR = "GATEKEY_STORAGE_READ_TIMEOUT"
DEPLOYED_READ_TIMEOUT_SECONDS = 5


def _config() -> Config:
    read_timeout = float(os.environ.get(READ_TIMEOUT_ENV_VAR) or DEPLOYED_READ_TIMEOUT_SECONDS)
    return Config(connect_timeout=2, read_timeout=read_timeout, retries={"mode": "standard", "max_attempts": 3})


@lru_cache(maxsize=1)
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_config())


@lru_cache(maxsize=1)
def dynamodb_resource() -> DynamoDBServiceResource:
    return boto3.resource("dynamodb", config=_config())


@lru_cache(maxsize=1)
def kms_client() -> KMSClient:
    return boto3.client("kms", config=_config())


@lru_cache(maxsize=1)
def events_client() -> EventBridgeClient:
    return boto3.client("events", config=_config())


@lru_cache(maxsize=1)
def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=_config())


@lru_cache(maxsize=1)
def apigateway_client() -> APIGatewayClient:
    return boto3.client("apigateway", config=_config())


def reset_clients() -> None:
    """Forget the clients (the local runtime and tests call this after changing the endpoint)."""
    for factory in (dynamodb_client, dynamodb_resource, kms_client, events_client, sqs_client, apigateway_client):
        factory.cache_clear()


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn an unexpected AWS failure into a domain error the API answers with 503."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise StorageUnavailableError("storage is unavailable, try again") from error


def cancelled_on(error: ClientError) -> list[bool]:
    """For a cancelled transaction: which of its actions failed their condition, in the order they were given."""
    reasons = error.response.get("CancellationReasons", [])
    return [reason.get("Code") == "ConditionalCheckFailed" for reason in reasons]
