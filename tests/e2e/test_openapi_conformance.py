"""Schemathesis, with all its checks, against `gatekey serve` over every operation of /v1/openapi.json.

Run alone: `.venv/bin/pytest tests/e2e/test_openapi_conformance.py` (the output of a failing run names each
failure with a curl command to reproduce it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatekey.configuration import DEFAULT_CONFIG_FILE
from tests.e2e.server import RunningGatekey, ok, start_gatekey
from tests.webhook_receiver import Receiver

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "fuzzing" / "schemathesis.toml"
SCHEMATHESIS = Path(sys.executable).parent / "st"
PARTNER_PATHS = r"^/v1/orgs"


# Roomy plans (DESIGN §13), so that PUT /v1/orgs/{org_id}/plan is fuzzed with the plans the document names.
PLANS = """
[plans.standard]
rate = 1000
burst = 1000

[plans.metered]
rate = 1000
burst = 1000
quota = { limit = 1000000, period = "month" }
"""


@pytest.fixture(scope="module")
def gatekey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    with start_gatekey(tmp_path_factory.mktemp("fuzzed")) as running:
        yield running


@pytest.fixture(scope="module")
def gatekey_for_partners(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    """A server of its own for the partner's run: what the admin's run left behind (hundreds of keys, users and
    webhooks, keys with rotations due) is not the partner's to wade through."""
    with start_gatekey(tmp_path_factory.mktemp("fuzzed-partner")) as running:
        yield running


@pytest.fixture(scope="module")
def gatekey_with_plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    config = tmp_path_factory.mktemp("plans") / "gatekey.toml"
    config.write_text(f'default_plan = "standard"\n{DEFAULT_CONFIG_FILE.read_text()}\n{PLANS}')
    with start_gatekey(tmp_path_factory.mktemp("fuzzed-plans"), "--config", str(config)) as running:
        yield running


def _admin_personal_key(gatekey: RunningGatekey) -> dict[str, str]:
    """A personal key of the bootstrapped admin holding the whole catalog: an admin, as a person is one."""
    with gatekey.admin() as admin:
        (founder,) = [user for user in ok(admin.get("/v1/users"))["data"] if user["role"] == "admin"]
        catalog = ok(admin.get("/v1/permissions"))["data"]
        created = ok(
            admin.post(
                "/v1/keys",
                json={
                    "label": "schemathesis",
                    "type": "personal",
                    "user_id": founder["id"],
                    "permissions": {entry["resource"]: entry["max_level"] for entry in catalog},
                },
            ),
            201,
        )
    return {"token": created["secret"], "key_id": created["id"], "user_id": founder["id"]}


def _run_schemathesis(gatekey: RunningGatekey, token: str, *selection: str, **environment: str) -> None:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{gatekey.url}/v1/openapi.json",
        "--url",
        gatekey.url,
        *selection,
    ]
    result = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "GATEKEY_FUZZ_TOKEN": token, **environment},
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"schemathesis found problems:\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"


def test_schemathesis_finds_nothing_with_an_admins_key(gatekey: RunningGatekey, receiver: Receiver) -> None:
    caller = _admin_personal_key(gatekey)
    _run_schemathesis(
        gatekey,
        caller["token"],
        "--exclude-path-regex",
        PARTNER_PATHS,
        GATEKEY_FUZZ_KEY_ID=caller["key_id"],
        GATEKEY_FUZZ_USER_ID=caller["user_id"],
        GATEKEY_FUZZ_WEBHOOK_URL=receiver.url,
    )


@pytest.mark.parametrize("server", ["gatekey_for_partners", "gatekey_with_plans"])
def test_schemathesis_finds_nothing_with_a_partner_key(server: str, request: pytest.FixtureRequest) -> None:
    gatekey: RunningGatekey = request.getfixturevalue(server)
    _run_schemathesis(gatekey, gatekey.partner_token, "--include-path-regex", PARTNER_PATHS)
