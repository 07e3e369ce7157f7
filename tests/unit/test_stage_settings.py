"""A function learns its stage from GATEKEY_STAGE and refuses to start without a known one (no fallback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gatekey.settings import STAGE_ENV_VAR, STAGES, StageNotConfiguredError, StageSettings


def test_a_function_without_a_stage_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STAGE_ENV_VAR, raising=False)
    with pytest.raises(StageNotConfiguredError, match=STAGE_ENV_VAR):
        StageSettings.from_environment()


def test_an_empty_stage_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STAGE_ENV_VAR, "")
    with pytest.raises(StageNotConfiguredError, match="is not set"):
        StageSettings.from_environment()


def test_an_unknown_stage_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STAGE_ENV_VAR, "Prod")
    with pytest.raises(StageNotConfiguredError, match="unknown stage 'Prod'"):
        StageSettings.from_environment()


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_known_stage_gives_its_settings(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    for name in list(os.environ):
        if name.startswith("GATEKEY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv(STAGE_ENV_VAR, stage)
    assert StageSettings.from_environment() == STAGES[stage]


@pytest.mark.parametrize("handler", ["api", "authorizer", "log_ingest", "scheduler", "webhooks"])
def test_a_handler_without_a_stage_fails_its_cold_start_naming_the_variable(handler: str) -> None:
    environment = {name: value for name, value in os.environ.items() if name != STAGE_ENV_VAR}
    started = subprocess.run(
        [sys.executable, "-c", f"import gatekey.handlers.{handler}"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert started.returncode != 0
    assert f"StageNotConfiguredError: {STAGE_ENV_VAR} is not set" in started.stderr
