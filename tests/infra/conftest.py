"""Synthesizes the Gatekey stack once per stage per session for the infrastructure tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stack_synthesis import CACHED_AUTHORIZER_TTL_SECONDS, SynthesizedStage, synthesize, write_config_with_plans


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    return synthesize(tmp_path_factory.mktemp("cdk-dev"), stage="dev")


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    return synthesize(tmp_path_factory.mktemp("cdk-prod"), stage="prod")


@pytest.fixture(scope="session")
def dev_with_authorizer_cache(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    return synthesize(
        tmp_path_factory.mktemp("cdk-dev-cached"), stage="dev", authorizer_cache_ttl=str(CACHED_AUTHORIZER_TTL_SECONDS)
    )


@pytest.fixture(scope="session")
def dev_with_plans(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    """The dev stage with a configuration file that has plans (DESIGN §13); the other stages have none."""
    config = write_config_with_plans(tmp_path_factory.mktemp("config-with-plans"))
    return synthesize(tmp_path_factory.mktemp("cdk-dev-plans"), stage="dev", config=str(config))


@pytest.fixture(scope="session", params=["dev", "prod", "dev_with_authorizer_cache", "dev_with_plans"])
def every_stage(request: pytest.FixtureRequest) -> Iterator[SynthesizedStage]:
    yield request.getfixturevalue(request.param)
