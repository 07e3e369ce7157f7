"""A provider's own HTTP server on loopback, for `gatekey serve --upstream`: it records every request exactly as it
arrived and answers as the test asks, including answers it holds back half-sent until the test releases them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Headers of the request that steer the answer (the provider's server reads them like any other header).
ANSWER_STATUS = "X-Answer-Status"  # answer with this status instead of 200 (201 for POST)
ECHO_BODY = "X-Echo-Body"  # answer with the request's body, byte for byte, as application/octet-stream


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    target: str  # the request line's path and query, as they arrived
    headers: tuple[tuple[str, str], ...]  # in order, repeats kept
    body: bytes

    def values(self, name: str) -> list[str]:
        """Every value sent under `name`, compared case-insensitively."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def value(self, name: str) -> str:
        values = self.values(name)
        assert len(values) == 1, f"{name}: {values}"
        return values[0]


@dataclass
class HeldAnswer:
    """An answer sent in two parts: the first at once, the rest only once `release` is set."""

    first: bytes
    rest: bytes
    announce_length: bool  # Content-Length up front; otherwise chunked transfer encoding
    release: threading.Event = field(default_factory=threading.Event)
    # Set just before the rest goes out (released, or tired of waiting): until then nobody can have it.
    sending_rest: threading.Event = field(default_factory=threading.Event)


@dataclass
class RecordingUpstream:
    url: str
    received: list[ReceivedRequest] = field(default_factory=list)
    held: dict[str, HeldAnswer] = field(default_factory=dict)  # by request path

    def to(self, path: str) -> list[ReceivedRequest]:
        """The requests that reached `path` (the part of the target before any query)."""
        return [request for request in self.received if request.target.partition("?")[0] == path]

    def hold(self, path: str, first: bytes, rest: bytes, *, announce_length: bool) -> HeldAnswer:
        answer = HeldAnswer(first, rest, announce_length)
        self.held[path] = answer
        return answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked answers, as a real backend speaks
    upstream: RecordingUpstream

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = ReceivedRequest(self.command, self.path, tuple(self.headers.items()), body)
        self.upstream.received.append(request)
        held = self.upstream.held.get(self.path.partition("?")[0])
        if held is not None:
            self._send_held(held)
        elif self.headers.get(ECHO_BODY):
            self._send(200, body, [("Content-Type", "application/octet-stream")])
        else:
            status = int(self.headers.get(ANSWER_STATUS) or (201 if self.command == "POST" else 200))
            description = {"upstream": "invoices", "method": self.command, "target": self.path}
            self._send(
                status,
                json.dumps(description).encode(),
                [
                    ("Content-Type", "application/json"),
                    ("X-Upstream", "invoices"),
                    ("Set-Cookie", "session=1; Path=/"),
                    ("Set-Cookie", "theme=dark; Path=/"),
                    ("Gatekey-Version", "1999-01-01"),  # the gateway sets its own
                ],
            )

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_held(self, held: HeldAnswer) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if held.announce_length:
            self.send_header("Content-Length", str(len(held.first) + len(held.rest)))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._send_part(held.first, chunked=not held.announce_length)
        held.release.wait(timeout=15)
        held.sending_rest.set()
        self._send_part(held.rest, chunked=not held.announce_length)
        if not held.announce_length:
            self.wfile.write(b"0\r\n\r\n")

    def _send_part(self, part: bytes, *, chunked: bool) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(part), part) if chunked else part)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


for _method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
    setattr(_Handler, f"do_{_method}", _Handler._answer)


@contextmanager
def recording_upstream() -> Iterator[RecordingUpstream]:
    upstream = RecordingUpstream(url="")
    handler = type("RecordingHandler", (_Handler,), {"upstream": upstream})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    upstream.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield upstream
    finally:
        for held in upstream.held.values():
            held.release.set()
        server.shutdown()
        server.server_close()
