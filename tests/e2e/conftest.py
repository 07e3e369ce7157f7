"""End-to-end fixtures: a real `gatekey serve` per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import RunningGatekey, start_gatekey


@pytest.fixture(scope="module")
def gatekey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    """A Gatekey of its own for each test module, so one module's keys never crowd another's limit."""
    with start_gatekey(tmp_path_factory.mktemp("gatekey")) as running:
        yield running
