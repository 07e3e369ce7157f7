"""Synthesizes the Gatekey stack once per stage per session for the infrastructure tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stack_synthesis import CACHED_AUTHORIZER_TTL_SECONDS, SynthesizedStage, synthesize


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


@pytest.fixture(scope="session", params=["dev", "prod", "dev_with_authorizer_cache"])
def every_stage(request: pytest.FixtureRequest) -> Iterator[SynthesizedStage]:
    yield request.getfixturevalue(request.param)
