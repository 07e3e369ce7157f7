"""`gatekey serve` itself: clean shutdown on SIGTERM and Ctrl-C, and `--storage-endpoint`."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from gatekey.local.embedded import LOCAL_CREDENTIALS
from gatekey.storage.tables import ALL_TABLES
from tests.e2e.server import free_port, start_gatekey


def wait_until_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def test_unreachable_storage_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    unused = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "gatekey"),
            "serve",
            "--port",
            str(free_port()),
            "--storage-endpoint",
            unused,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"cannot reach the storage endpoint {unused}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_signal(tmp_path: Path, stop_signal: signal.Signals) -> None:
    with start_gatekey(tmp_path) as running:
        with running.admin() as admin:
            assert admin.get("/v1/me").status_code == 200
        running.process.send_signal(stop_signal)
        assert running.process.wait(timeout=15) == 0
        output = running.process.stdout.read() if running.process.stdout else ""
    assert "Gatekey stopped." in output
    assert running.admin_token in output  # the admin key is printed at start, as documented
    assert "Traceback" not in output


def test_serve_uses_and_prepares_another_storage_endpoint(tmp_path: Path) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    external = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port)
        with start_gatekey(tmp_path, "--storage-endpoint", endpoint) as running:
            created = running.create_key(permissions={"products": "read"})
            running.process.terminate()
            assert running.process.wait(timeout=15) == 0
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        names = dynamodb.list_tables()["TableNames"]
        assert len(names) == len(ALL_TABLES)
        keys_table = next(name for name in names if name.endswith("-keys"))
        stored = dynamodb.get_item(TableName=keys_table, Key={"key_id": {"S": created["id"]}})["Item"]
        assert created["secret"] not in str(stored)  # only the argon2id hash rests there
    finally:
        external.terminate()
        external.wait(timeout=15)
