"""End-to-end fixtures: a real `gatekey serve` per test module; two sharing one store for two real tenants."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import RunningGatekey, start_gatekey


@pytest.fixture(scope="module")
def gatekey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    """A Gatekey of its own for each test module, so one module's keys never crowd another's limit."""
    with start_gatekey(tmp_path_factory.mktemp("gatekey")) as running:
        yield running


@pytest.fixture(scope="module")
def shop(storage_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    """One organisation ("Demo Store", bootstrapped by its `gatekey serve`) in the session's shared tables."""
    with start_gatekey(tmp_path_factory.mktemp("shop"), "--storage-endpoint", storage_endpoint) as running:
        yield running


@pytest.fixture(scope="module")
def rival(storage_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    """Another organisation in the same tables: each `gatekey serve` bootstraps an org of its own."""
    with start_gatekey(tmp_path_factory.mktemp("rival"), "--storage-endpoint", storage_endpoint) as running:
        yield running
