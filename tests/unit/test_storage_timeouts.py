"""How long a storage call may take before it is retried: briefly when deployed, longer on the embedded store."""

from __future__ import annotations

import pytest

from gatekey.local.embedded import LOCAL_READ_TIMEOUT_SECONDS, point_at_storage
from gatekey.storage import aws


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv(aws.READ_TIMEOUT_ENV_VAR, raising=False)
    aws.reset_clients()
    yield
    aws.reset_clients()  # the next test's clients are made with its environment


def test_a_deployed_function_gives_up_on_a_stuck_call_after_5_s() -> None:
    assert aws.dynamodb_client().meta.config.read_timeout == aws.DEPLOYED_READ_TIMEOUT_SECONDS == 5


def test_the_local_runtime_waits_longer_for_its_embedded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "placeholder")  # so that point_at_storage's changes are undone after the test
    point_at_storage("http://127.0.0.1:1", {})
    assert aws.dynamodb_client().meta.config.read_timeout == LOCAL_READ_TIMEOUT_SECONDS
    assert aws.apigateway_client().meta.config.read_timeout == LOCAL_READ_TIMEOUT_SECONDS
