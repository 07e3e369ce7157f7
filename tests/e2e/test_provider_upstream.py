"""A provider's own API behind `gatekey serve --config FILE --upstream URL` (DESIGN §11): its catalog, its route
rules and public routes, and its HTTP server on loopback receiving exactly what the client sent plus the caller."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gatekey.api_gateway import CALLER_HEADERS
from gatekey.client import HmacAuth
from gatekey.domain.permissions import GATEKEY_RESOURCE_NAMES
from tests.e2e.server import RunningGatekey, free_port, ok, start_gatekey
from tests.e2e.upstream import ANSWER_STATUS, ECHO_BODY, RecordingUpstream, recording_upstream

API_VERSION = "2026-11-01"
INVOICES_CONFIG = """
[permissions]
invoices = { level = "write", description = "Invoices" }
customers = { level = "read", description = "Customer records" }

[[routes]]
method = "POST"
path = "/invoices/{id}/send"
permission = "invoices:read"

[[routes]]
method = "GET"
path = "/status"
public = true
"""


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "gatekey.toml"
    path.write_text(INVOICES_CONFIG)
    return path


@pytest.fixture(scope="module")
def upstream() -> Iterator[RecordingUpstream]:
    with recording_upstream() as running:
        yield running


@pytest.fixture(scope="module")
def invoices(
    upstream: RecordingUpstream, config_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGatekey]:
    with start_gatekey(
        tmp_path_factory.mktemp("invoices"), "--config", str(config_file), "--upstream", upstream.url
    ) as running:
        yield running


def unique(path: str) -> str:
    """A path no other test sends, so what reached the upstream is this test's alone."""
    return f"{path}/inv_{uuid.uuid4().hex[:12]}"


def caller_headers(received: Any) -> dict[str, str]:
    return {name: received.value(name) for name in CALLER_HEADERS}


def test_an_allowed_request_reaches_the_upstream_with_the_caller(
    invoices: RunningGatekey, upstream: RecordingUpstream
) -> None:
    key = invoices.create_key(permissions={"invoices": "write", "customers": "read"})
    with invoices.admin() as admin:
        connection = ok(admin.post("/v1/connections", json={"provider_slug": "hubspot", "end_user_id": "eu_1"}), 201)
    path = unique("/invoices")
    with invoices.client(key["secret"], **{"X-Connection-Token": connection["connection_token"]}) as client:
        response = client.get(path, headers={"X-Request-Tag": "a", "User-Agent": "e2e-upstream/1"})

    assert response.status_code == 200
    assert response.json() == {"upstream": "invoices", "method": "GET", "target": path}
    assert response.headers["X-Upstream"] == "invoices"
    assert response.headers.get_list("Set-Cookie") == ["session=1; Path=/", "theme=dark; Path=/"]
    assert response.headers.get_list("Gatekey-Version") == [API_VERSION]
    (received,) = upstream.to(path)
    assert caller_headers(received) == {
        "Gatekey-Key-Id": key["id"],
        "Gatekey-Org-Id": key["org_id"],
        "Gatekey-User-Id": "",  # a main key belongs to no user
        "Gatekey-Key-Type": "main",
        "Gatekey-Auth-Mode": "bearer",
        "Gatekey-Permissions": received.value("Gatekey-Permissions"),
        "Gatekey-Connection-Id": connection["id"],
        "Gatekey-Content-SHA256": "",
    }
    assert json.loads(received.value("Gatekey-Permissions")) == {"invoices": "write", "customers": "read"}
    assert received.value("X-Request-Tag") == "a"
    assert received.value("User-Agent") == "e2e-upstream/1"
    # The client's own Authorization goes on, as API Gateway's HTTP proxy passes it; Gatekey adds no secret.
    assert received.value("Authorization") == f"Bearer {key['secret']}"
    assert received.value("X-Forwarded-For") == "127.0.0.1"
    assert received.value("Host") == upstream.url.removeprefix("http://")


def test_a_personal_key_names_its_user(invoices: RunningGatekey, upstream: RecordingUpstream) -> None:
    with invoices.admin() as admin:
        user = ok(admin.post("/v1/users", json={"email": f"{uuid.uuid4().hex}@invoices.example", "name": "Mia"}), 201)
        key = ok(
            admin.post(
                "/v1/keys",
                json={
                    "label": "mine",
                    "type": "personal",
                    "user_id": user["id"],
                    "permissions": {"invoices": "read"},
                },
            ),
            201,
        )
    path = unique("/invoices")
    with invoices.client(key["secret"]) as client:
        assert client.get(path).status_code == 200
    (received,) = upstream.to(path)
    assert received.value("Gatekey-User-Id") == user["id"]
    assert received.value("Gatekey-Key-Type") == "personal"


def test_a_signed_request_carries_its_body_digest_and_no_secret(
    invoices: RunningGatekey, upstream: RecordingUpstream
) -> None:
    key = invoices.create_key(auth_mode="hmac", permissions={"invoices": "write"})
    body = b'{"customer": "cus_1", "amount": 1200}'
    path = unique("/invoices")
    with httpx.Client(base_url=invoices.url, auth=HmacAuth(key["id"], key["secret"]), timeout=10) as client:
        response = client.post(path, params={"draft": "true"}, content=body)

    assert response.status_code == 201
    (received,) = upstream.to(path)
    assert received.body == body
    assert received.value("Gatekey-Auth-Mode") == "hmac"
    assert received.value("Gatekey-Key-Id") == key["id"]
    assert received.value("Gatekey-Content-SHA256") == hashlib.sha256(body).hexdigest()
    assert received.values("Authorization") == []
    assert not any(key["secret"] in value for _, value in received.headers)


def test_caller_headers_a_client_sends_never_reach_the_upstream(
    invoices: RunningGatekey, upstream: RecordingUpstream
) -> None:
    key = invoices.create_key(permissions={"invoices": "read"})
    path = unique("/invoices")
    spoofed = [
        ("Gatekey-Key-Id", "key_spoofed"),
        ("gatekey-org-id", "org_spoofed"),
        ("GATEKEY-PERMISSIONS", '{"invoices": "write", "customers": "read"}'),
        ("Gatekey-User-Id", "usr_spoofed"),
        ("Gatekey-Content-SHA256", "0" * 64),
        ("Gatekey-Connection-Id", "conn_spoofed"),
        ("Gatekey_Key_Type", "partner"),  # read as Gatekey-Key-Type by WSGI and CGI servers
        ("Gatekey_Org_Id", "org_spoofed"),
    ]
    with invoices.client(key["secret"]) as client:
        assert client.get(path, headers=spoofed).status_code == 200

    (received,) = upstream.to(path)
    assert not any("spoofed" in value or value == "partner" for _, value in received.headers)
    assert not any("_" in name and name.lower().startswith("gatekey") for name, _ in received.headers)
    assert caller_headers(received)["Gatekey-Key-Id"] == key["id"]
    assert caller_headers(received)["Gatekey-Org-Id"] == key["org_id"]
    assert json.loads(received.value("Gatekey-Permissions")) == {"invoices": "read"}
    assert received.value("Gatekey-Key-Type") == "main"
    assert received.value("Gatekey-Content-SHA256") == ""
    assert received.value("Gatekey-Connection-Id") == ""


def test_routes_the_key_does_not_hold_are_403_and_never_reach_the_upstream(
    invoices: RunningGatekey, upstream: RecordingUpstream
) -> None:
    key = invoices.create_key(permissions={"invoices": "read"})
    invoice = unique("/invoices")
    refused = [("POST", unique("/invoices")), ("DELETE", invoice), ("PATCH", invoice), ("GET", unique("/customers"))]
    with invoices.client(key["secret"]) as client:
        assert client.get(invoice).status_code == 200
        for method, path in refused:
            refusal = client.request(method, path, content=b'{"amount": 1}')
            assert (refusal.status_code, refusal.json()) == (403, {"message": "Forbidden"}), (method, path)
            assert refusal.headers["Gatekey-Version"] == API_VERSION

    assert [request.method for request in upstream.to(invoice)] == ["GET"]  # not the DELETE nor the PATCH
    assert upstream.to(refused[0][1]) == upstream.to(refused[3][1]) == []


def test_the_route_rule_lets_a_read_key_send_an_invoice(invoices: RunningGatekey, upstream: RecordingUpstream) -> None:
    key = invoices.create_key(permissions={"invoices": "read"})
    invoice = unique("/invoices")
    with invoices.client(key["secret"]) as client:
        sent = client.post(f"{invoice}/send")
        voided = client.post(f"{invoice}/void")  # no rule: a POST needs invoices:write

    assert sent.status_code == 201  # the upstream's own answer to a POST
    assert voided.status_code == 403
    assert [request.target for request in upstream.to(f"{invoice}/send")] == [f"{invoice}/send"]
    assert upstream.to(f"{invoice}/void") == []


def test_a_public_route_needs_no_key_and_skips_the_authorizer(
    invoices: RunningGatekey, upstream: RecordingUpstream
) -> None:
    before = len(upstream.to("/status"))
    with invoices.client() as anonymous:
        response = anonymous.get("/status", headers={"Gatekey-Key-Id": "key_spoofed"})
        # A credential the authorizer would refuse (401) changes nothing: the authorizer is not called.
        unusable = anonymous.get("/status", headers={"Authorization": "Bearer not-a-key"})
        head = anonymous.head("/status")
        # Only GET (and HEAD) is public: another method on the same path goes through the authorizer.
        post = anonymous.post("/status")

    assert response.status_code == unusable.status_code == head.status_code == 200
    assert response.json()["target"] == "/status"
    assert response.headers["Gatekey-Version"] == API_VERSION
    assert (post.status_code, post.json()) == (401, {"message": "Unauthorized"})
    public = upstream.to("/status")[before:]
    assert [request.method for request in public] == ["GET", "GET", "HEAD"]
    # On a public route every caller header is sent, empty: the backend sees no caller, and no spoofed one.
    for request in public:
        assert caller_headers(request) == dict.fromkeys(CALLER_HEADERS, "")


def test_a_path_of_no_catalog_resource_is_denied(invoices: RunningGatekey, upstream: RecordingUpstream) -> None:
    key = invoices.create_key(permissions={"invoices": "write", "customers": "read"})
    path = unique("/payments")
    with invoices.client(key["secret"]) as client:
        assert client.get(path).status_code == 403
        assert client.get("/products").status_code == 403  # the demo store's resources mean nothing here
    with invoices.client() as anonymous:
        assert anonymous.get(path).status_code == 401
    assert upstream.to(path) == []
    assert upstream.to("/products") == []


def test_keys_are_granted_from_the_provider_catalog(invoices: RunningGatekey) -> None:
    with invoices.admin() as admin:
        created = admin.post("/v1/keys", json={"label": "writer", "permissions": {"invoices": "write"}})
        store = admin.post("/v1/keys", json={"label": "store", "permissions": {"products": "read"}})
        too_much = admin.post("/v1/keys", json={"label": "x", "permissions": {"customers": "write"}})
        catalog = ok(admin.get("/v1/permissions"))

    assert created.status_code == 201
    assert created.json()["permissions"] == {"invoices": "write"}
    assert store.status_code == 400
    assert store.json()["error"]["code"] == "invalid_request"
    assert "products" in store.json()["error"]["message"]
    assert too_much.status_code == 400
    levels = {entry["resource"]: entry["max_level"] for entry in catalog["data"]}
    assert levels["invoices"] == "write"
    assert levels["customers"] == "read"
    assert {"keys", "logs", "users", "connections", "events", "webhooks"} <= set(levels)
    assert set(levels) <= {"invoices", "customers", *GATEKEY_RESOURCE_NAMES}
    assert "products" not in levels


def test_query_and_body_pass_through_byte_for_byte(invoices: RunningGatekey, upstream: RecordingUpstream) -> None:
    key = invoices.create_key(permissions={"invoices": "write"})
    path = unique("/invoices") + "/caf%C3%A9%20x/a%2Fb"
    target = f"{path}?q=a%2Fb&q=c+d&empty=&flag&%E2%82%AC=%c3%a9&tilde=~"
    body = bytes(range(256)) * 3
    with invoices.client(key["secret"]) as client:
        response = client.put(
            f"{invoices.url}{path}", content=body, headers={ECHO_BODY: "1"}, extensions={"target": target.encode()}
        )

    assert response.status_code == 200
    assert response.content == body  # the upstream's answer comes back unchanged too
    assert response.headers["Content-Type"] == "application/octet-stream"
    (received,) = upstream.to(path)
    assert received.target == target
    assert received.body == body


def test_the_upstream_status_comes_back_unchanged(invoices: RunningGatekey, upstream: RecordingUpstream) -> None:
    key = invoices.create_key(permissions={"invoices": "read"})
    with invoices.client(key["secret"]) as client:
        for status in (204, 301, 404, 418, 500, 503):
            response = client.get(unique("/invoices"), headers={ANSWER_STATUS: str(status)})
            assert response.status_code == status
            assert response.headers["Gatekey-Version"] == API_VERSION


@pytest.mark.parametrize("announce_length", [False, True], ids=["chunked", "content-length"])
def test_a_slow_answer_is_streamed_as_it_arrives(
    invoices: RunningGatekey, upstream: RecordingUpstream, announce_length: bool
) -> None:
    key = invoices.create_key(permissions={"invoices": "read"})
    path = unique("/invoices") + "/export"
    first, rest = b"id,amount\ninv_1,1200\n", b"inv_2,800\n" * 5000
    held = upstream.hold(path, first, rest, announce_length=announce_length)
    with invoices.client(key["secret"]) as client, client.stream("GET", path) as response:
        assert response.status_code == 200
        received = b""
        chunks = response.iter_raw()
        while len(received) < len(first):
            received += next(chunks)
        # The first part reached the client while the upstream still held the rest back.
        assert not held.sending_rest.is_set()
        assert received == first
        held.release.set()
        received += b"".join(chunks)
        framing = response.headers.get("Transfer-Encoding"), response.headers.get("Content-Length")

    assert received == first + rest
    assert framing == ((None, str(len(first + rest))) if announce_length else ("chunked", None))


def test_requests_to_the_upstream_are_in_the_request_log(invoices: RunningGatekey) -> None:
    key = invoices.create_key(label="logged", permissions={"invoices": "read"})
    with invoices.client(key["secret"], **{"User-Agent": "e2e-upstream-log/1"}) as client:
        statuses = [
            client.get("/invoices/inv_logged").status_code,
            client.get("/invoices/inv_missing", headers={ANSWER_STATUS: "404"}).status_code,
            client.post("/invoices/inv_logged/send").status_code,
            client.delete("/invoices/inv_logged").status_code,
        ]
    assert statuses == [200, 404, 201, 403]
    entries = logged(invoices, key["id"], count=4)
    assert [(entry["method"], entry["path"], entry["status"]) for entry in entries] == [
        ("DELETE", "/invoices/inv_logged", 403),
        ("POST", "/invoices/inv_logged/send", 201),
        ("GET", "/invoices/inv_missing", 404),
        ("GET", "/invoices/inv_logged", 200),
    ]
    assert all(entry["latency_ms"] >= 0 and entry["user_agent"] == "e2e-upstream-log/1" for entry in entries)


def logged(gatekey: RunningGatekey, key_id: str, count: int) -> list[dict[str, Any]]:
    """The key's log entries, newest first, once `count` have arrived (about a second after the requests)."""
    deadline = time.monotonic() + 10
    with gatekey.admin() as admin:
        while True:
            entries: list[dict[str, Any]] = ok(admin.get("/v1/logs", params={"key_id": key_id}))["data"]
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.2)


def test_an_upstream_that_is_down_is_502_in_the_error_shape(config_file: Path, tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with start_gatekey(tmp_path, "--config", str(config_file), "--upstream", nobody) as gatekey:
        key = gatekey.create_key(permissions={"invoices": "read"})
        with gatekey.client(key["secret"]) as client:
            response = client.get("/invoices")
        with gatekey.client() as anonymous:
            public = anonymous.get("/status")
        entries = logged(gatekey, key["id"], count=1)

    for answer in (response, public):
        assert answer.status_code == 502
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["Gatekey-Version"] == API_VERSION
        assert answer.json()["error"]["code"] == "upstream_unavailable"
        assert set(answer.json()["error"]) == {"code", "message"}
    assert [(entry["path"], entry["status"]) for entry in entries] == [("/invoices", 502)]
