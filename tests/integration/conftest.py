"""Integration fixtures: repositories and services against moto's server, one fresh organisation per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gatekey.api import services
from gatekey.configuration import active_configuration
from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Organisation
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle
from gatekey.storage import aws
from gatekey.storage.directory_repository import DirectoryRepository
from gatekey.storage.keys_repository import KeysRepository


@pytest.fixture
def authorizer(storage_endpoint: str) -> Any:
    """The authorizer Lambda's module, imported once its environment points at the test store."""
    from gatekey.handlers import authorizer

    return authorizer


@pytest.fixture
def aws_calls(storage_endpoint: str) -> Iterator[list[str]]:
    """The AWS operations this process sends, as `service:Operation`, seen on the real clients' event hooks."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(f"{model.service_model.service_name}:{model.name}")

    clients = (aws.dynamodb_client(), aws.dynamodb_resource().meta.client, aws.kms_client())
    for client in clients:
        client.meta.events.register("before-call", record)
    yield calls
    for client in clients:
        client.meta.events.unregister("before-call", record)


@pytest.fixture
def keys_repository(storage_endpoint: str) -> KeysRepository:
    return services.keys_repository()


@pytest.fixture
def directory(storage_endpoint: str) -> DirectoryRepository:
    return services.directory()


@pytest.fixture
def lifecycle(storage_endpoint: str) -> KeyLifecycle:
    return services.key_lifecycle()


@pytest.fixture
def org(directory: DirectoryRepository) -> Organisation:
    organisation = Organisation(org_id=new_id("org"), name="Acme", key_limit=25, created_at=utc_now())
    directory.create_org(organisation)
    return organisation


@pytest.fixture
def admin(org: Organisation) -> Caller:
    """A main key of `org` holding every permission (what the bootstrap admin key is)."""
    return Caller(
        key_id="key_admin",
        org_id=org.org_id,
        user_id="usr_admin",
        key_type="main",
        permissions=active_configuration().catalog.everything(),
    )
