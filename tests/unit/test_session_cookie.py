"""The session cookie's attributes per stage: Secure wherever the console is served over https."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PRINT_COOKIE = "from gatekey.api.sessions import session_cookie; print(session_cookie('value', 43200))"


def cookie_of_stage(stage: str) -> str:
    """The Set-Cookie value a function deployed at `stage` sends (a process of its own: settings load once)."""
    environment = {**os.environ, "GATEKEY_STAGE": stage}
    result = subprocess.run(
        [sys.executable, "-c", PRINT_COOKIE], capture_output=True, text=True, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deployed_stages_send_a_secure_httponly_strict_cookie(stage: str) -> None:
    attributes = cookie_of_stage(stage).split("; ")
    assert attributes[0] == "gatekey_session=value"
    assert {"Secure", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} == set(attributes[1:])


def test_gatekey_serve_over_plain_http_leaves_secure_out() -> None:
    assert "Secure" not in cookie_of_stage("local").split("; ")
