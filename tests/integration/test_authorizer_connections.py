"""Connection tokens (DESIGN §4): the authorizer opens a connection of the key's org, or answers 401."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gatekey.api import services
from gatekey.configuration import active_configuration
from gatekey.domain.authentication import Authenticator, UnsealedSecrets
from gatekey.domain.clock import utc_now
from gatekey.domain.connection_management import ConnectionService
from gatekey.domain.connections import Connection, token_sha256
from gatekey.domain.directory import Organisation
from gatekey.domain.hashing import SecretVerifier
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.domain.permissions import Level
from gatekey.storage import aws
from gatekey.storage.connections_repository import ConnectionsRepository
from gatekey.storage.directory_repository import DirectoryRepository
from gatekey.storage.nonces_repository import NoncesRepository
from gatekey.storage.sealing import KmsPepper, KmsSecretVault
from gatekey.storage.tables import CONNECTIONS_TABLE, IDEMPOTENCY_TABLE, KEYS_TABLE, NONCES_TABLE
from tests.conftest import lambda_context
from tests.integration.authorizer_events import allowed_resources, authorizer_event, invoke

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def connections(storage_endpoint: str) -> ConnectionService:
    return services.connection_service()


@pytest.fixture
def reader_token(lifecycle: KeyLifecycle, admin: Caller) -> str:
    _, token = lifecycle.create(admin, NewKey(label="reader", permissions={"products": Level.READ}))
    return token.value


@pytest.fixture
def connected(connections: ConnectionService, admin: Caller) -> tuple[Connection, str]:
    return connections.create(admin, "hubspot", "end-user-42")


@pytest.fixture
def table_calls(storage_endpoint: str) -> Iterator[list[tuple[str, str]]]:
    """(operation, table) of every DynamoDB call this process makes."""
    calls: list[tuple[str, str]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, params.get("TableName", "")))

    clients = (aws.dynamodb_client(), aws.dynamodb_resource().meta.client)
    for client in clients:
        client.meta.events.register("before-parameter-build.dynamodb", record)
    yield calls
    for client in clients:
        client.meta.events.unregister("before-parameter-build.dynamodb", record)


def with_connection(event: dict[str, Any], connection_token: str, header: str = "X-Connection-Token") -> dict[str, Any]:
    event["headers"][header] = connection_token
    return event


@pytest.mark.parametrize("header", ["X-Connection-Token", "x-connection-token"])
def test_valid_token_puts_the_connection_in_the_context(
    authorizer: Any, reader_token: str, connected: tuple[Connection, str], header: str
) -> None:
    connection, connection_token = connected
    result = invoke(authorizer, with_connection(authorizer_event(reader_token), connection_token, header))
    assert isinstance(result, dict)
    assert result["context"]["connectionId"] == connection.connection_id
    assert allowed_resources(result)


def test_without_the_header_the_context_names_no_connection(
    authorizer: Any, reader_token: str, connected: tuple[Connection, str]
) -> None:
    result = invoke(authorizer, authorizer_event(reader_token))
    assert isinstance(result, dict)
    assert result["context"]["connectionId"] == ""


def test_token_of_another_orgs_connection_is_401(
    authorizer: Any, reader_token: str, connections: ConnectionService, directory: DirectoryRepository
) -> None:
    rival = Organisation(org_id=new_id("org"), name="Rival", key_limit=25, created_at=utc_now())
    directory.create_org(rival)
    rival_admin = Caller("key_rival", rival.org_id, "usr_rival", "main", active_configuration().catalog.everything())
    _, rival_token = connections.create(rival_admin, "hubspot", "end-user-42")
    assert invoke(authorizer, with_connection(authorizer_event(reader_token), rival_token)) == "Unauthorized"


def test_deleted_connections_token_is_401_at_once(
    authorizer: Any, reader_token: str, connections: ConnectionService, admin: Caller, connected: tuple[Connection, str]
) -> None:
    connection, connection_token = connected
    allowed_resources(invoke(authorizer, with_connection(authorizer_event(reader_token), connection_token)))
    connections.delete(admin, connection.connection_id)
    assert invoke(authorizer, with_connection(authorizer_event(reader_token), connection_token)) == "Unauthorized"


@pytest.mark.parametrize(
    "malformed",
    ["", "ctok_short", "conn_" + "A" * 54, "ctok_" + "A" * 53 + "!", "ctok_" + "A" * 55, "Bearer ctok_" + "A" * 54],
)
def test_malformed_token_is_401_without_any_storage_call(
    authorizer: Any, reader_token: str, aws_calls: list[str], malformed: str
) -> None:
    aws_calls.clear()
    assert invoke(authorizer, with_connection(authorizer_event(reader_token), malformed)) == "Unauthorized"
    assert aws_calls == []


def test_wrong_secret_for_a_real_connection_is_401(
    authorizer: Any, reader_token: str, connected: tuple[Connection, str]
) -> None:
    _, connection_token = connected
    forged = connection_token[:-32] + ("B" if connection_token[-32] == "A" else "A") + connection_token[-31:]
    assert invoke(authorizer, with_connection(authorizer_event(reader_token), forged)) == "Unauthorized"


def test_unknown_connection_is_401(authorizer: Any, reader_token: str) -> None:
    unknown = "ctok_" + "Z" * 54
    assert invoke(authorizer, with_connection(authorizer_event(reader_token), unknown)) == "Unauthorized"


def test_a_connection_token_without_a_valid_key_is_401(authorizer: Any, connected: tuple[Connection, str]) -> None:
    _, connection_token = connected
    assert invoke(authorizer, with_connection(authorizer_event(None), connection_token)) == "Unauthorized"


def test_warm_request_with_a_connection_is_one_read_of_each_table(
    authorizer: Any, reader_token: str, connected: tuple[Connection, str], table_calls: list[tuple[str, str]]
) -> None:
    _, connection_token = connected
    invoke(authorizer, with_connection(authorizer_event(reader_token), connection_token))  # cold: last-used note
    table_calls.clear()
    allowed_resources(invoke(authorizer, with_connection(authorizer_event(reader_token), connection_token)))
    assert table_calls == [("GetItem", KEYS_TABLE.name()), ("GetItem", CONNECTIONS_TABLE.name())]


def test_warm_request_without_a_connection_still_reads_only_the_key(
    authorizer: Any, reader_token: str, table_calls: list[tuple[str, str]]
) -> None:
    invoke(authorizer, authorizer_event(reader_token))
    table_calls.clear()
    allowed_resources(invoke(authorizer, authorizer_event(reader_token)))
    assert table_calls == [("GetItem", KEYS_TABLE.name())]


def all_strings(table_name: str) -> list[str]:
    items = aws.dynamodb_resource().Table(table_name).scan()["Items"]
    return [json.dumps(item, default=str) for item in items]


def test_the_token_is_stored_only_as_its_sha256(connected: tuple[Connection, str]) -> None:
    connection, connection_token = connected
    table = aws.dynamodb_resource().Table(CONNECTIONS_TABLE.name())
    stored = table.get_item(Key={"connection_id": connection.connection_id})["Item"]
    assert stored["token_sha256"] == token_sha256(connection_token)
    assert not any(connection_token in text for text in all_strings(CONNECTIONS_TABLE.name()))


def test_an_idempotent_create_replays_the_token_without_storing_it_in_clear(admin: Caller) -> None:
    from gatekey.handlers import api

    event: dict[str, Any] = json.loads((EVENTS / "api_create_key.json").read_text())
    event.update(path="/v1/connections", body=json.dumps({"provider_slug": "hubspot", "end_user_id": "u-1"}))
    event["headers"]["Idempotency-Key"] = new_id("idem")
    event["requestContext"]["authorizer"].update(keyId=admin.key_id, orgId=admin.org_id)
    first = api.lambda_handler(event, lambda_context("api"))
    assert first["statusCode"] == 201, first["body"]
    connection_token = json.loads(first["body"])["connection_token"]
    replay = api.lambda_handler(event, lambda_context("api"))
    assert json.loads(replay["body"])["connection_token"] == connection_token
    for table in (CONNECTIONS_TABLE, IDEMPOTENCY_TABLE):
        assert not any(connection_token in text for text in all_strings(table.name()))


def test_a_failing_connections_read_denies(
    authorizer: Any, reader_token: str, connected: tuple[Connection, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, connection_token = connected
    client = aws.dynamodb_client()
    real_get_item = client.get_item

    def connections_unavailable(**params: Any) -> Any:
        if params["TableName"] == CONNECTIONS_TABLE.name():
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "GetItem")
        return real_get_item(**params)

    monkeypatch.setattr(client, "get_item", connections_unavailable)
    result = invoke(authorizer, with_connection(authorizer_event(reader_token), connection_token))
    assert isinstance(result, dict)
    assert allowed_resources(result) == []
    assert {statement["Effect"] for statement in result["policyDocument"]["Statement"]} == {"Deny"}


def test_connection_tokens_are_refused_while_authorizer_results_are_cached(
    authorizer: Any, reader_token: str, connected: tuple[Connection, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached answer is keyed on the API key and IP: it would carry this connection to the key's other calls."""
    _, connection_token = connected
    caching = Authenticator(
        services.keys_repository(),
        SecretVerifier(services.settings().key_secret_argon2, KmsPepper()),
        services.settings().token_prefix,
        hmac_secrets=UnsealedSecrets(KmsSecretVault()),
        nonces=NoncesRepository(NONCES_TABLE.name()),
        connections=ConnectionsRepository(CONNECTIONS_TABLE.name()),
        accept_connection_tokens=False,
    )
    monkeypatch.setattr(authorizer, "authenticator", caching)
    assert invoke(authorizer, with_connection(authorizer_event(reader_token), connection_token)) == "Unauthorized"
    allowed_resources(invoke(authorizer, authorizer_event(reader_token)))
