"""Fixtures shared by every level: embedded AWS (moto's server over HTTP) configured like a deployed function."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from gatekey.local.events import ApiStage
from gatekey.local.gateway import LocalLambdaContext
from gatekey.settings import STAGES

pytest_plugins = ["tests.webhook_receiver"]  # the `receiver` fixture
TEST_STAGE = "test"


def lambda_context(function_name: str) -> LocalLambdaContext:
    """The context Lambda passes a handler, as the local gateway builds it."""
    return LocalLambdaContext(function_name, ApiStage())


@pytest.fixture(scope="session")
def storage_endpoint() -> Iterator[str]:
    """moto's server on a free loopback port, with Gatekey's tables and KMS key, for this test session."""
    from gatekey.local.embedded import (
        EmbeddedAws,
        create_missing_tables,
        ensure_event_routing,
        ensure_kms_keys,
        point_at_storage,
    )
    from gatekey.storage.tables import stage_table_names

    os.environ.update(STAGES["local"].as_environment())
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    embedded = EmbeddedAws()
    endpoint = embedded.start()
    table_names = stage_table_names(TEST_STAGE)
    point_at_storage(endpoint, table_names)
    create_missing_tables(table_names)
    ensure_kms_keys(TEST_STAGE)
    ensure_event_routing("local")  # the bus the functions publish to (GATEKEY_EVENT_BUS_NAME of the local stage)
    yield endpoint
    embedded.stop()
