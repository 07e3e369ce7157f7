"""`gatekey serve` started for real as a subprocess, and httpx clients to speak to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

GATEKEY = Path(sys.executable).parent / "gatekey"
ADMIN_EMAIL = "admin@demo-store.example"  # the admin `gatekey serve` founds "Demo Store" with


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON body of a response that must have `status` (the body is the failure message otherwise)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class RunningGatekey:
    url: str
    admin_token: str
    partner_token: str
    process: subprocess.Popen[str]
    admin_password: str = ""  # the founding admin's console password (`--admin-password-file`)
    _admin_personal_token: str = ""

    def admin_person(self) -> httpx.Client:
        """The founding admin in person: their personal key, holding what the admin main key holds. Only a person
        who is an admin invites (DESIGN §12); a main key never does."""
        if not self._admin_personal_token:
            with self.admin() as admin:
                held = ok(admin.get("/v1/me"))["key"]["permissions"]
                users = ok(admin.get("/v1/users", params={"limit": 200}))["data"]
                (founder,) = [user for user in users if user["email"] == ADMIN_EMAIL]
                body = {
                    "label": "the founding admin",
                    "type": "personal",
                    "user_id": founder["id"],
                    "permissions": held,
                }
                self._admin_personal_token = ok(admin.post("/v1/keys", json=body), 201)["secret"]
        return self.client(self._admin_personal_token)

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def admin(self) -> httpx.Client:
        return self.client(self.admin_token)

    def create_key(self, **body: Any) -> dict[str, Any]:
        body.setdefault("label", "e2e key")
        with self.admin() as admin:
            response = admin.post("/v1/keys", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def run_gatekey(*arguments: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`gatekey <arguments>` run to its end (for commands that must refuse to start, say)."""
    return subprocess.run(
        [str(GATEKEY), *arguments], capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )


@contextmanager
def start_gatekey(tmp_path: Path, *extra: str, cwd: Path | None = None) -> Iterator[RunningGatekey]:
    """A running `gatekey serve`, always stopped on the way out (killed if SIGTERM is not enough)."""
    port = free_port()
    key_file = tmp_path / "admin-key"
    partner_key_file = tmp_path / "partner-key"
    password_file = tmp_path / "admin-password"
    process = subprocess.Popen(
        [
            str(GATEKEY),
            "serve",
            "--port",
            str(port),
            "--admin-key-file",
            str(key_file),
            "--partner-key-file",
            str(partner_key_file),
            "--admin-password-file",
            str(password_file),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        cwd=cwd,
    )
    try:
        yield _wait_until_healthy(process, f"http://127.0.0.1:{port}", key_file, partner_key_file, password_file)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_healthy(
    process: subprocess.Popen[str], url: str, key_file: Path, partner_key_file: Path, password_file: Path
) -> RunningGatekey:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gatekey serve exited early:\n{process.stdout.read() if process.stdout else ''}")
        try:
            # The password is written last, once the gateway serves.
            if password_file.exists() and password_file.read_text().endswith("\n"):
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("gatekey serve did not become healthy within 60 s")
        time.sleep(0.1)
    return RunningGatekey(
        url=url,
        admin_token=key_file.read_text().strip(),
        partner_token=partner_key_file.read_text().strip(),
        process=process,
        admin_password=password_file.read_text().strip(),
    )
