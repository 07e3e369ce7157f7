"""Synthesizes the Gatekey stack once per stage per session for the infrastructure tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stack_synthesis import CACHED_AUTHORIZER_TTL_SECONDS, SynthesizedStage, synthesize

from infra.build_lambda import LAMBDA_BUILD_DIR, build_lambda


@pytest.fixture(scope="session")
def lambda_asset() -> Path:
    """`make build` output; built here when absent, since every function's code asset points at it."""
    if not LAMBDA_BUILD_DIR.is_dir():
        build_lambda()
    return LAMBDA_BUILD_DIR


@pytest.fixture(scope="session")
def dev(lambda_asset: Path, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    return synthesize(tmp_path_factory.mktemp("cdk-dev"), stage="dev")


@pytest.fixture(scope="session")
def prod(lambda_asset: Path, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    return synthesize(tmp_path_factory.mktemp("cdk-prod"), stage="prod")


@pytest.fixture(scope="session")
def dev_with_authorizer_cache(lambda_asset: Path, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedStage:
    return synthesize(
        tmp_path_factory.mktemp("cdk-dev-cached"), stage="dev", authorizer_cache_ttl=str(CACHED_AUTHORIZER_TTL_SECONDS)
    )


@pytest.fixture(scope="session", params=["dev", "prod", "dev_with_authorizer_cache"])
def every_stage(request: pytest.FixtureRequest) -> Iterator[SynthesizedStage]:
    yield request.getfixturevalue(request.param)
