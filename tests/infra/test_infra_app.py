"""The CDK app picks the stage and the authorizer cache TTL from the context, and refuses what it cannot deploy."""

from __future__ import annotations

import pytest
from aws_cdk import App

from gatekey.settings import STAGES
from infra.app import StageSelectionError, stage_settings


def test_without_a_stage_the_app_deploys_dev() -> None:
    assert stage_settings(App()) == STAGES["dev"]


def test_stage_context_selects_prod() -> None:
    assert stage_settings(App(context={"stage": "prod"})) == STAGES["prod"]


@pytest.mark.parametrize("stage", ["staging", "local", "PROD"])
def test_an_undeployable_stage_is_refused_naming_the_valid_ones(stage: str) -> None:
    with pytest.raises(StageSelectionError, match=r"-c stage=dev or -c stage=prod"):
        stage_settings(App(context={"stage": stage}))


def test_authorizer_cache_ttl_context_overrides_only_the_ttl() -> None:
    settings = stage_settings(App(context={"stage": "prod", "authorizer_cache_ttl": "120"}))
    assert settings.authorizer_cache_ttl_seconds == 120
    assert settings.token_prefix == STAGES["prod"].token_prefix


@pytest.mark.parametrize("ttl", ["soon", "-1", "3601"])
def test_an_authorizer_cache_ttl_api_gateway_cannot_take_is_refused(ttl: str) -> None:
    with pytest.raises(StageSelectionError, match="authorizer_cache_ttl"):
        stage_settings(App(context={"authorizer_cache_ttl": ttl}))
