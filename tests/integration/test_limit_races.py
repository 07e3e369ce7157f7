"""Per-org limits hold when creates race in parallel containers: threads, each with its own boto3 clients and its
own repositories (as separate Lambda containers have), against moto's server over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from gatekey.domain.api_keys import ApiKey, KeyFilter
from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Organisation
from gatekey.domain.errors import KeyLimitReachedError
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller
from gatekey.domain.tokens import new_token
from gatekey.domain.webhooks import MAX_WEBHOOKS_PER_ORG, WebhookLimitReachedError, WebhookRegistry
from gatekey.storage import aws
from gatekey.storage.directory_repository import DirectoryRepository
from gatekey.storage.keys_repository import KeysRepository
from gatekey.storage.sealing import KmsSealer
from gatekey.storage.tables import DIRECTORY_TABLE, KEYS_TABLE, WEBHOOKS_TABLE, webhook_count_item_key
from gatekey.storage.webhooks_repository import WebhooksRepository

CONTAINERS = 24
PUBLIC_ADDRESS = "93.184.216.34"


class ContainerClients:
    """boto3 clients per thread, each from a session of its own: what one Lambda container per thread would make."""

    def __init__(self) -> None:
        self._local = threading.local()
        self.made: list[int] = []
        self._lock = threading.Lock()

    def _client(self, name: str, factory: Callable[[boto3.Session], Any]) -> Any:
        if not hasattr(self._local, name):
            session = getattr(self._local, "session", None) or boto3.Session()
            self._local.session = session
            client = factory(session)
            setattr(self._local, name, client)
            with self._lock:
                self.made.append(id(client))
        return getattr(self._local, name)

    def dynamodb_client(self) -> Any:
        return self._client("dynamodb", lambda session: session.client("dynamodb", config=aws._config()))

    def dynamodb_resource(self) -> Any:
        return self._client("resource", lambda session: session.resource("dynamodb", config=aws._config()))

    def kms_client(self) -> Any:
        return self._client("kms", lambda session: session.client("kms", config=aws._config()))


@pytest.fixture
def containers(storage_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContainerClients]:
    """storage/aws.py caches one client per process; here each thread gets its own instead."""
    clients = ContainerClients()
    monkeypatch.setattr(aws, "dynamodb_client", clients.dynamodb_client)
    monkeypatch.setattr(aws, "dynamodb_resource", clients.dynamodb_resource)
    monkeypatch.setattr(aws, "kms_client", clients.kms_client)
    yield clients


def race(attempt: Callable[[], str]) -> list[str]:
    """`attempt` run by CONTAINERS threads at once (a barrier releases them together)."""
    start = threading.Barrier(CONTAINERS)

    def contender(_: int) -> str:
        start.wait()
        return attempt()

    with ThreadPoolExecutor(max_workers=CONTAINERS) as pool:
        return list(pool.map(contender, range(CONTAINERS)))


def caller_of(org_id: str) -> Caller:
    return Caller(key_id="key_admin", org_id=org_id, user_id=None, key_type="main", permissions={})


def container_registry() -> WebhookRegistry:
    """What one container builds at its cold start: its own repository and sealer, on its own clients."""
    return WebhookRegistry(
        WebhooksRepository(WEBHOOKS_TABLE.name()),
        KmsSealer(),
        loopback_allowed=False,
        resolver=lambda host, port: [PUBLIC_ADDRESS],
    )


def webhook_outcome(org_id: str) -> str:
    try:
        container_registry().create(caller_of(org_id), "https://hooks.example.com/in", ["*"])
    except WebhookLimitReachedError:
        return "limit"
    return "created"


def test_parallel_webhook_creates_never_pass_the_limit(containers: ContainerClients) -> None:
    org_id = new_id("org")
    outcomes = race(lambda: webhook_outcome(org_id))
    assert outcomes.count("created") == MAX_WEBHOOKS_PER_ORG
    assert outcomes.count("limit") == CONTAINERS - MAX_WEBHOOKS_PER_ORG
    stored = list(WebhooksRepository(WEBHOOKS_TABLE.name()).all_of_org(org_id))
    assert len(stored) == MAX_WEBHOOKS_PER_ORG
    assert len(set(containers.made)) == len(containers.made) >= CONTAINERS  # no client was shared by two threads


def test_deleting_a_webhook_frees_one_place_even_when_creates_race_for_it(containers: ContainerClients) -> None:
    org_id = new_id("org")
    registry = container_registry()
    created = [registry.create(caller_of(org_id), "https://hooks.example.com/in", ["*"])[0] for _ in range(10)]
    with pytest.raises(WebhookLimitReachedError):
        registry.create(caller_of(org_id), "https://hooks.example.com/in", ["*"])
    registry.delete(caller_of(org_id), created[0].webhook_id)
    outcomes = race(lambda: webhook_outcome(org_id))
    assert outcomes.count("created") == 1
    assert len(list(WebhooksRepository(WEBHOOKS_TABLE.name()).all_of_org(org_id))) == MAX_WEBHOOKS_PER_ORG


def test_deleting_another_orgs_webhook_frees_nothing(containers: ContainerClients) -> None:
    org_id, other_org = new_id("org"), new_id("org")
    registry = container_registry()
    for _ in range(MAX_WEBHOOKS_PER_ORG):
        registry.create(caller_of(org_id), "https://hooks.example.com/in", ["*"])
    theirs, _ = registry.create(caller_of(other_org), "https://hooks.example.com/in", ["*"])
    with pytest.raises(Exception, match="no webhook"):
        registry.delete(caller_of(org_id), theirs.webhook_id)
    with pytest.raises(WebhookLimitReachedError):
        registry.create(caller_of(org_id), "https://hooks.example.com/in", ["*"])


def a_key(org_id: str) -> ApiKey:
    token = new_token("gk_test")
    return ApiKey(
        key_id=token.key_id,
        org_id=org_id,
        type="main",
        label="raced",
        hint="gk_test…",
        auth_mode="bearer",
        permissions={},
        created_at=utc_now(),
        created_by="race",
        secret_hash="not used here",
    )


def test_parallel_key_creates_never_pass_a_small_orgs_limit(containers: ContainerClients) -> None:
    limit = 3
    org = Organisation(org_id=new_id("org"), name="Small", key_limit=limit, created_at=utc_now())
    DirectoryRepository(DIRECTORY_TABLE.name()).create_org(org)

    def key_outcome() -> str:
        try:
            # Each container's own repository, on its own clients.
            KeysRepository(KEYS_TABLE.name(), DIRECTORY_TABLE.name()).create(a_key(org.org_id))
        except KeyLimitReachedError:
            return "limit"
        return "created"

    outcomes = race(key_outcome)
    assert outcomes.count("created") == limit
    assert outcomes.count("limit") == CONTAINERS - limit
    stored, _ = KeysRepository(KEYS_TABLE.name(), DIRECTORY_TABLE.name()).list_for_org(
        org.org_id, KeyFilter(), utc_now(), 200, None
    )
    assert len(stored) == limit
    assert len(set(containers.made)) == len(containers.made) >= CONTAINERS


def test_an_org_whose_webhooks_predate_the_counter_is_held_to_the_limit_too(containers: ContainerClients) -> None:
    org_id = new_id("org")
    registry = container_registry()
    repository = WebhooksRepository(WEBHOOKS_TABLE.name())
    made = [registry.create(caller_of(org_id), "https://hooks.example.com/in", ["*"])[0] for _ in range(10)]
    # As they were stored before the counter existed: the webhooks, and no counter item.
    aws.dynamodb_resource().Table(WEBHOOKS_TABLE.name()).delete_item(Key=webhook_count_item_key(org_id))
    with pytest.raises(WebhookLimitReachedError):
        registry.create(caller_of(org_id), "https://hooks.example.com/in", ["*"])
    registry.delete(caller_of(org_id), made[0].webhook_id)
    registry.create(caller_of(org_id), "https://hooks.example.com/in", ["*"])
    with pytest.raises(WebhookLimitReachedError):
        registry.create(caller_of(org_id), "https://hooks.example.com/in", ["*"])
    assert len(list(repository.all_of_org(org_id))) == MAX_WEBHOOKS_PER_ORG
