"""The local gateway's HTTP proxy integration (`gatekey serve --upstream`), over real sockets: what the upstream
receives, what the client gets back, and what happens when the upstream is slow, silent or breaks off."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from gatekey.api_gateway import CALLER_HEADERS
from gatekey.domain.permissions import RoutePattern
from gatekey.local.gateway import LocalGateway
from gatekey.local.provider import provider_routes
from gatekey.local.upstream import HttpProxyIntegration, UpstreamUrlError, upstream_url
from gatekey.settings import API_VERSION

CONTEXT = {
    "keyId": "key_1",
    "orgId": "org_1",
    "userId": "",
    "keyType": "main",
    "authMode": "bearer",
    "permissions": '{"invoices":"write"}',
    "connectionId": "",
    "contentSha256": "",
}
ALLOW = {"Authorization": "Bearer allow"}
Script = Callable[[socket.socket, bytes], None]  # answers one request (its raw bytes) on the connection


def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = APIGatewayAuthorizerRequestEvent(event)
    if request.headers.get("Authorization") != "Bearer allow":
        raise Exception("Unauthorized")
    arn = request.parsed_arn
    policy = APIGatewayAuthorizerResponse("key_1", arn.region, arn.aws_account_id, arn.api_id, arn.stage, CONTEXT)
    policy.allow_all_routes()
    return policy.asdict()


@dataclass
class ScriptedUpstream:
    """An HTTP server on loopback that records each request's raw bytes and answers with the script for its path."""

    url: str = ""
    requests: list[bytes] = field(default_factory=list)
    scripts: dict[str, Script] = field(default_factory=dict)

    def headers_of(self, index: int) -> list[tuple[str, str]]:
        head = self.requests[index].split(b"\r\n\r\n", 1)[0].decode("latin-1")
        return [(name, value.strip()) for name, _, value in (line.partition(":") for line in head.split("\r\n")[1:])]

    def request_line(self, index: int) -> str:
        return self.requests[index].split(b"\r\n", 1)[0].decode("latin-1")


def answer(raw: bytes) -> Script:
    return lambda connection, request: connection.sendall(raw)


def json_answer(status: int = 200, extra_headers: bytes = b"") -> Script:
    body = b'{"ok": true}'
    return answer(
        b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s"
        % (status, extra_headers, len(body), body)
    )


def _read_request(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        part = connection.recv(65536)
        if not part:
            return b""
        data += part
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    length = next((int(line[15:]) for line in head.split(b"\r\n") if line.startswith(b"content-length:")), 0)
    while len(data.split(b"\r\n\r\n", 1)[1]) < length:
        data += connection.recv(65536)
    return data


@contextmanager
def scripted_upstream() -> Iterator[ScriptedUpstream]:
    upstream = ScriptedUpstream()
    listener = socket.create_server(("127.0.0.1", 0))
    upstream.url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    def serve(connection: socket.socket) -> None:
        with connection:
            while request := _read_request(connection):
                upstream.requests.append(request)
                path = request.split(b" ", 2)[1].decode().partition("?")[0]
                upstream.scripts.get(path, json_answer())(connection, request)

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield upstream
    finally:
        listener.close()


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as running:
        yield running


@pytest.fixture
def access_log() -> list[str]:
    return []


def serve_gateway(integration: HttpProxyIntegration, access_log: list[str]) -> Iterator[httpx.Client]:
    routes = provider_routes([RoutePattern("GET", "/status")], integration)
    gateway = LocalGateway(routes, authorizer, on_access_log=access_log.append)
    host, port = gateway.start()
    try:
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            yield client
    finally:
        gateway.shutdown()


@pytest.fixture
def client(upstream: ScriptedUpstream, access_log: list[str]) -> Iterator[httpx.Client]:
    yield from serve_gateway(HttpProxyIntegration(upstream_url(upstream.url)), access_log)


def lines_once_written(access_log: list[str], count: int) -> list[str]:
    """The gateway writes a streamed answer's line after its last byte went out, so a moment after the client has
    it all."""
    deadline = time.monotonic() + 5
    while len(access_log) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return access_log


def test_the_upstream_gets_the_clients_end_to_end_headers_and_the_caller(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    response = client.post(
        "/invoices?draft=1",
        content=b"{}",
        headers=[
            *ALLOW.items(),
            ("Connection", "keep-alive, X-Hop"),
            ("X-Hop", "only for this connection"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0"),
            ("TE", "trailers"),
            ("X-Tag", "one"),
            ("X-Tag", "two"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("Gatekey-Key-Id", "key_spoofed"),
            ("gatekey_org_id", "org_spoofed"),
        ],
    )

    assert response.status_code == 200
    assert upstream.request_line(0) == "POST /invoices?draft=1 HTTP/1.1"
    headers = upstream.headers_of(0)
    names = [name.lower() for name, _ in headers]
    assert not {"connection", "x-hop", "keep-alive", "proxy-authorization", "te", "gatekey_org_id"} & set(names)
    assert [value for name, value in headers if name == "X-Tag"] == ["one", "two"]
    assert ("Authorization", "Bearer allow") in headers
    assert ("X-Forwarded-For", "203.0.113.7, 127.0.0.1") in headers
    assert ("Content-Length", "2") in headers
    assert [(name, value) for name, value in headers if name.lower().startswith("gatekey")] == [
        (name, CONTEXT[key]) for name, key in CALLER_HEADERS.items()
    ]


def test_a_folded_header_stays_one_header(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    host, port = client.base_url.host, client.base_url.port
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(
            b"GET /invoices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer allow\r\n"
            b"X-Folded: a\r\n Gatekey-Key-Id: key_spoofed\r\nConnection: close\r\n\r\n"
        )
        assert raw.recv(1024).startswith(b"HTTP/1.1 200")

    headers = upstream.headers_of(0)
    assert ("X-Folded", "a Gatekey-Key-Id: key_spoofed") in headers
    assert [value for name, value in headers if name == "Gatekey-Key-Id"] == ["key_1"]


def test_a_public_route_sends_every_caller_header_empty(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    assert client.get("/status", headers={"Gatekey-Key-Id": "key_spoofed"}).status_code == 200

    caller = [(name, value) for name, value in upstream.headers_of(0) if name.lower().startswith("gatekey")]
    assert caller == [(name, "") for name in CALLER_HEADERS]


def test_the_answer_keeps_its_headers_but_the_hop_by_hop_ones(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    upstream.scripts["/invoices"] = json_answer(
        extra_headers=b"Connection: keep-alive, X-Upstream-Hop\r\nX-Upstream-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
        b"Proxy-Authenticate: Basic\r\nX-Kept: a\r\nX-Kept: b\r\nGatekey-Version: 1999-01-01\r\n"
        b"Server: invoices/1.0\r\nDate: Tue, 01 Dec 2026 10:00:00 GMT\r\n"
    )

    response = client.get("/invoices", headers=ALLOW)

    assert response.json() == {"ok": True}
    assert response.headers.get_list("X-Kept") == ["a", "b"]
    assert response.headers.get_list("Gatekey-Version") == [API_VERSION]
    assert response.headers.get_list("Server") == ["invoices/1.0"]
    assert response.headers.get_list("Date") == ["Tue, 01 Dec 2026 10:00:00 GMT"]
    assert not {"x-upstream-hop", "keep-alive", "proxy-authenticate"} & set(response.headers.keys())


def test_a_base_path_in_the_url_prefixes_every_path(upstream: ScriptedUpstream, access_log: list[str]) -> None:
    for client in serve_gateway(HttpProxyIntegration(upstream_url(upstream.url + "/api/")), access_log):
        assert client.get("/invoices/inv_1?x=%2F", headers=ALLOW).status_code == 200
    assert upstream.request_line(0) == "GET /api/invoices/inv_1?x=%2F HTTP/1.1"


def test_an_upstream_that_does_not_answer_in_time_is_502(upstream: ScriptedUpstream, access_log: list[str]) -> None:
    never = threading.Event()
    upstream.scripts["/slow"] = lambda connection, request: never.wait(10) and None
    try:
        for client in serve_gateway(HttpProxyIntegration(upstream_url(upstream.url), timeout_seconds=0.3), access_log):
            response = client.get("/slow", headers=ALLOW)
    finally:
        never.set()

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert response.headers["Gatekey-Version"] == API_VERSION
    assert json.loads(access_log[-1])["status"] == "502"


def test_a_body_the_upstream_breaks_off_cuts_the_clients_answer_short(
    client: httpx.Client, upstream: ScriptedUpstream, access_log: list[str]
) -> None:
    def break_off(connection: socket.socket, request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        connection.shutdown(socket.SHUT_RDWR)

    upstream.scripts["/broken"] = break_off

    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/broken", headers=ALLOW)
    assert client.get("/invoices", headers=ALLOW).status_code == 200  # the gateway serves on
    assert json.loads(access_log[0])["status"] == "200"  # what the client was told, before the body broke off


def test_an_encoded_body_passes_through_still_encoded(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    compressed = gzip.compress(b"invoice " * 1000)
    upstream.scripts["/export"] = answer(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(compressed), compressed)
    )

    with client.stream("GET", "/export", headers=ALLOW) as response:
        raw = b"".join(response.iter_raw())

    assert raw == compressed
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Length"] == str(len(compressed))


def test_answers_without_a_body_keep_the_connection_in_step(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    upstream.scripts["/head"] = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
    upstream.scripts["/empty"] = answer(b"HTTP/1.1 204 No Content\r\n\r\n")

    head = client.head("/head", headers=ALLOW)
    empty = client.delete("/empty", headers=ALLOW)
    after = client.get("/invoices", headers=ALLOW)

    assert (head.status_code, head.headers["Content-Length"], head.content) == (200, "1234", b"")
    assert (empty.status_code, empty.content) == (204, b"")
    assert "Transfer-Encoding" not in empty.headers
    assert after.json() == {"ok": True}


def test_an_http_1_0_client_gets_an_unframed_answer_ending_with_the_connection(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.scripts["/export"] = answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    host, port = client.base_url.host, client.base_url.port

    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(b"GET /export HTTP/1.0\r\nAuthorization: Bearer allow\r\n\r\n")
        received = b""
        while part := raw.recv(65536):
            received += part

    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Transfer-Encoding" not in head
    assert body == b"abc"


def test_the_access_log_line_is_written_once_a_streamed_answer_ends(
    client: httpx.Client, upstream: ScriptedUpstream, access_log: list[str]
) -> None:
    release = threading.Event()

    def in_two_parts(connection: socket.socket, request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        release.wait(10)
        connection.sendall(b"4\r\nrest\r\n0\r\n\r\n")

    upstream.scripts["/held"] = in_two_parts
    try:
        with client.stream("GET", "/held", headers=ALLOW) as response:
            chunks = response.iter_raw()
            first = next(chunks)
            logged_while_held = list(access_log)
            release.set()
            rest = b"".join(chunks)
    finally:
        release.set()

    assert (first, rest) == (b"first", b"rest")
    assert logged_while_held == []
    (line,) = lines_once_written(access_log, 1)
    assert (json.loads(line)["status"], json.loads(line)["keyId"]) == ("200", "key_1")


def test_the_gateway_keeps_no_cookie_of_one_client_for_another(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.scripts["/login"] = json_answer(extra_headers=b"Set-Cookie: session=alice; Path=/\r\n")

    assert client.get("/login", headers=ALLOW).headers["Set-Cookie"] == "session=alice; Path=/"
    with httpx.Client(base_url=str(client.base_url)) as other:
        assert other.get("/invoices", headers=ALLOW).status_code == 200

    assert not any(name.lower() == "cookie" for name, _ in upstream.headers_of(1))


@pytest.mark.parametrize(
    "url", ["localhost:9000", "ftp://127.0.0.1/", "http:///path", "http://127.0.0.1:9000/?a=1", "http://x/#top"]
)
def test_an_upstream_url_must_be_http_with_a_host_and_nothing_after_the_path(url: str) -> None:
    with pytest.raises(UpstreamUrlError):
        upstream_url(url)
