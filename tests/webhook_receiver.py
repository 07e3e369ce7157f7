"""A webhook receiver on loopback for the tests, and DESIGN §8's signature check written out independently."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest


@dataclass
class Receiver:
    """An HTTP server on loopback that records what it is sent and answers with the statuses it is given."""

    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn; 200 once used up
    delay_seconds: float = 0.0

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]

    def wait_for(self, count: int, timeout: float = 15) -> None:
        """Until at least `count` requests arrived (deliveries run in the background)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.requests)} of {count} deliveries arrived: {self.paths}")
            time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as state:
        yield state


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver on a free loopback port for as long as the block runs (the fixture's, for longer scopes)."""
    state = Receiver(url="")
    own_path = f"/hook-{uuid.uuid4().hex}"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if urlsplit(self.path).path != own_path:  # a webhook of an earlier test that had this port
                self.send_response(410)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            state.requests.append((dict(self.headers.items()), body))
            state.paths.append(self.path)
            time.sleep(state.delay_seconds)
            self.send_response(state.statuses.pop(0) if state.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{own_path}"
    yield state
    server.shutdown()


def signature_is_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """DESIGN §8, written out here: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`."""
    parts = dict(part.split("=", 1) for part in headers["Gatekey-Signature"].split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(parts["v1"], expected) and abs(time.time() - int(parts["t"])) < 300
