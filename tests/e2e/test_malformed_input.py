"""Hand-made bad requests to every route that takes a body, a query or a path parameter, and to the authorizer's
headers, through `gatekey serve` (DESIGN §4, §7): each is a 4xx in the error shape (the gateway's
`{"message": ...}` for credentials), never a 5xx; nothing a request carries as a secret or a pasted token comes
back in the answer; nothing is stored; and the server keeps serving."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.server import RunningGatekey, ok, start_gatekey

# A real-looking token pasted where it does not belong: it must never be repeated in an answer.
PASTED = "gk_test_7QqK3mZ1xR8vT2wY5nB0cDLh4Jf6Gs9Pk2Ve8Nt1Ua3Rc5Xy7Wb0Zq3wsiVa"
JSON = {"Content-Type": "application/json"}


@dataclass
class World:
    gatekey: RunningGatekey
    admin: httpx.Client
    partner: httpx.Client
    key_id: str
    user_id: str
    connection_id: str
    webhook_id: str
    org_id: str
    org_user_id: str

    def stored(self) -> dict[str, int]:
        """How many objects of each kind the two callers can see: what no bad request may change."""
        counts = {
            name: len(ok(self.admin.get(path, params={"limit": 200}))["data"])
            for name, path in (
                ("keys", "/v1/keys"),
                ("users", "/v1/users"),
                ("connections", "/v1/connections"),
                ("webhooks", "/v1/webhooks"),
            )
        }
        counts["orgs"] = len(ok(self.partner.get("/v1/orgs", params={"limit": 200}))["data"])
        return counts


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with start_gatekey(tmp_path_factory.mktemp("malformed")) as gatekey:
        admin, partner = gatekey.admin(), gatekey.client(gatekey.partner_token)
        key = ok(admin.post("/v1/keys", json={"label": "target"}), 201)
        user = ok(admin.post("/v1/users", json={"email": "t@example.com", "name": "T"}), 201)
        connection = ok(admin.post("/v1/connections", json={"provider_slug": "crm", "end_user_id": "eu"}), 201)
        hook_url = "http://127.0.0.1:9/hook"
        webhook = ok(admin.post("/v1/webhooks", json={"url": hook_url, "events": ["*"]}), 201)
        org = ok(partner.post("/v1/orgs", json={"name": "Acme"}), 201)
        org_user = ok(partner.post(f"/v1/orgs/{org['id']}/users", json={"email": "o@a.example", "name": "O"}), 201)
        yield World(
            gatekey, admin, partner, key["id"], user["id"], connection["id"], webhook["id"], org["id"], org_user["id"]
        )
        admin.close()
        partner.close()


def assert_refused(response: httpx.Response, *, statuses: tuple[int, ...] = (400,), gateway: bool = False) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["Gatekey-Version"] == "2026-11-01"
    body = response.json()
    if gateway:
        assert set(body) == {"message"}
    else:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert PASTED not in response.text and PASTED[:24] not in response.text


# (caller, method, path template) of every route that takes a body.
BODY_ROUTES = [
    ("admin", "POST", "/v1/keys"),
    ("admin", "PATCH", "/v1/keys/{key_id}"),
    ("admin", "POST", "/v1/keys/{key_id}/rotate"),
    ("admin", "POST", "/v1/users"),
    ("admin", "POST", "/v1/connections"),
    ("admin", "POST", "/v1/webhooks"),
    ("partner", "POST", "/v1/orgs"),
    ("partner", "POST", "/v1/orgs/{org_id}/users"),
    ("partner", "POST", "/v1/orgs/{org_id}/users/{org_user_id}/keys"),
]
DEEP = b"[" * 10_000 + b"]" * 10_000
BAD_BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("not UTF-8", b'{"label": "\xff\xfe"}', JSON),
    ("nested 10000 deep", DEEP, JSON),
    ("nested 33 deep", b'{"label": ' + b"[" * 33 + b"]" * 33 + b"}", JSON),
    ("an integer of 5000 digits", b'{"label": ' + b"9" * 5000 + b"}", JSON),
    ("a float beyond range", b'{"label": "x", "key_limit": 1e999}', JSON),
    ("NaN", b'{"label": NaN}', JSON),
    ("a duplicate key", b'{"label": "a", "label": "b"}', JSON),
    ("truncated", b'{"label": "x",', JSON),
    ("a byte-order mark", b'\xef\xbb\xbf{"label": "x"}', JSON),
    ("text/plain", b'{"label": "x"}', {"Content-Type": "text/plain"}),
    ("no Content-Type", b'{"label": "x"}', {}),
    ("a form", b"label=x", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("a charset other than UTF-8", b'{"label": "x"}', {"Content-Type": "application/json; charset=latin-1"}),
    ("a pasted token as a key", b'{"' + PASTED.encode() + b'": 1}', JSON),
    ("a pasted token as a value", b'{"label": 7, "type": "' + PASTED.encode() + b'"}', JSON),
    ("a pasted token as a permission", b'{"label": "x", "permissions": {"' + PASTED.encode() + b'": "read"}}', JSON),
    ("a pasted token as an address", b'{"label": "x", "ip_allowlist": ["' + PASTED.encode() + b'"]}', JSON),
    ("a JSON array", b"[]", JSON),
    ("a JSON string", b'"x"', JSON),
]


def _path(world: World, template: str) -> str:
    return template.format(key_id=world.key_id, org_id=world.org_id, org_user_id=world.org_user_id)


@pytest.mark.parametrize(("caller", "method", "template"), BODY_ROUTES, ids=[f"{m} {t}" for _, m, t in BODY_ROUTES])
def test_every_bad_body_is_400_in_the_error_shape_and_stores_nothing(
    world: World, caller: str, method: str, template: str
) -> None:
    client = world.admin if caller == "admin" else world.partner
    before = world.stored()
    for name, body, headers in BAD_BODIES:
        response = client.request(method, _path(world, template), content=body, headers=headers)
        try:
            assert_refused(response)
        except AssertionError as failure:
            raise AssertionError(f"{name}: {failure}") from None
    assert world.stored() == before
    assert ok(world.admin.get(f"/v1/keys/{world.key_id}"))["label"] == "target"  # PATCH changed nothing


def test_json_is_recognized_whatever_the_case_of_its_media_type(world: World) -> None:
    response = world.admin.post(
        "/v1/connections",
        content=b'{"provider_slug": "crm", "end_user_id": "eu_case"}',
        headers={"Content-Type": "APPLICATION/JSON; Charset=UTF-8"},
    )
    assert response.status_code == 201, response.text
    ok(world.admin.delete(f"/v1/connections/{response.json()['id']}"))


# (path, parameter, bad values) of every list route's query.
PAGING = [("limit", ["0", "201", "1.0", "-1", "1e1", "+5", "\uff11", "9" * 40, "", PASTED]), ("cursor", ["x", PASTED])]
BAD_QUERIES = [
    *[
        (path, name, value)
        for path in ("/v1/users", "/v1/connections", "/v1/webhooks")
        for name, values in PAGING
        for value in values
    ],
    ("/v1/keys", "type", "galactic"),
    ("/v1/keys", "status", PASTED),
    ("/v1/keys", "user_id", "u" * 65),
    ("/v1/keys", "cursor", "eyJrIjoidiJ9.0000000000000000"),
    ("/v1/events", "type", "key.deleted"),
    ("/v1/events", "limit", "0"),
    ("/v1/logs", "since", "1"),
    ("/v1/logs", "since", "2026-13-01T00:00:00Z"),
    ("/v1/logs", "since", "2026-01-01 00:00:00Z"),
    ("/v1/logs", "until", "0.5"),
    ("/v1/logs", "until", PASTED),
    ("/v1/logs", "status", "99"),
    ("/v1/logs", "status", "2xx"),
    ("/v1/logs", "method", "get"),
    ("/v1/logs", "key_id", "k" * 65),
    ("/v1/logs", "limit", "1.0"),
]


@pytest.mark.parametrize(("path", "name", "value"), BAD_QUERIES, ids=[f"{p}?{n}={v[:12]}" for p, n, v in BAD_QUERIES])
def test_every_bad_query_parameter_is_400_naming_it(world: World, path: str, name: str, value: str) -> None:
    response = world.admin.get(path, params={name: value})
    assert_refused(response)
    assert name in response.json()["error"]["message"] or response.json()["error"]["code"] == "invalid_cursor"


def test_a_range_that_ends_before_it_starts_is_400(world: World) -> None:
    response = world.admin.get("/v1/logs", params={"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"})
    assert_refused(response)


def test_another_tenants_cursor_is_400(world: World, tmp_path_factory: pytest.TempPathFactory) -> None:
    for _ in range(2):
        world.admin.post("/v1/users", json={"email": f"p{_}@example.com", "name": "P"})
    page = ok(world.admin.get("/v1/users", params={"limit": 1}))
    assert page["next_cursor"]
    response = world.partner.get("/v1/orgs", params={"cursor": page["next_cursor"]})
    assert_refused(response)
    assert response.json()["error"]["code"] == "invalid_cursor"


OBJECT_ROUTES = [
    ("admin", "GET", "/v1/keys/{}"),
    ("admin", "PATCH", "/v1/keys/{}"),
    ("admin", "DELETE", "/v1/keys/{}"),
    ("admin", "POST", "/v1/keys/{}/rotate"),
    ("admin", "POST", "/v1/keys/{}/reveal"),
    ("admin", "GET", "/v1/users/{}"),
    ("admin", "DELETE", "/v1/users/{}"),
    ("admin", "GET", "/v1/connections/{}"),
    ("admin", "DELETE", "/v1/connections/{}"),
    ("admin", "GET", "/v1/webhooks/{}"),
    ("admin", "DELETE", "/v1/webhooks/{}"),
    ("partner", "GET", "/v1/orgs/{}"),
    ("partner", "DELETE", "/v1/orgs/{}"),
    ("partner", "POST", "/v1/orgs/{}/users"),
]
BAD_IDS = [PASTED, "x" * 3000, "key_short", "%2F..%2F", "%00", "%F0%9F%94%91", "usr_" + "é" * 22]


@pytest.mark.parametrize(("caller", "method", "template"), OBJECT_ROUTES, ids=[f"{m} {t}" for _, m, t in OBJECT_ROUTES])
def test_every_bad_path_parameter_is_404_without_echo(world: World, caller: str, method: str, template: str) -> None:
    client = world.admin if caller == "admin" else world.partner
    before = world.stored()
    for bad_id in BAD_IDS:
        body: dict[str, Any] | None = {"label": "x"} if method in ("PATCH",) else None
        if template.endswith("/users"):
            body = {"email": "n@example.com", "name": "N"}
        response = client.request(method, template.format(bad_id), json=body)
        assert_refused(response, statuses=(404,))
        assert bad_id[:20] not in response.text
    assert world.stored() == before


VALID_SHAPE_TOKEN = "gk_test_" + "A" * 54  # right prefix and length, wrong checksum
CREDENTIAL_HEADERS: list[tuple[str, list[tuple[str, str]]]] = [
    ("no credentials", []),
    ("Bearer alone", [("Authorization", "Bearer")]),
    ("Basic", [("Authorization", "Basic dXNlcjpwYXNz")]),
    ("a tab", [("Authorization", f"Bearer\t{PASTED}")]),
    ("a wrong checksum", [("Authorization", f"Bearer {VALID_SHAPE_TOKEN}")]),
    ("a token of another prefix", [("Authorization", "Bearer sk_live_" + "A" * 60)]),
    ("a huge token", [("Authorization", "Bearer " + "A" * 8000)]),
    ("HMAC headers missing a signature", [("X-Gatekey-Key-Id", "key_7QqK3mZ1xR8vT2wY5nB0cD")]),
    (
        "HMAC with garbage",
        [
            ("X-Gatekey-Key-Id", "key_7QqK3mZ1xR8vT2wY5nB0cD"),
            ("X-Gatekey-Timestamp", "yesterday"),
            ("X-Gatekey-Nonce", "!"),
            ("X-Gatekey-Content-SHA256", "00"),
            ("X-Gatekey-Signature", "v1=zz"),
        ],
    ),
    ("a malformed connection token", [("X-Connection-Token", PASTED)]),
]


@pytest.mark.parametrize(("name", "headers"), CREDENTIAL_HEADERS, ids=[name for name, _ in CREDENTIAL_HEADERS])
@pytest.mark.parametrize("path", ["/v1/me", "/v1/keys", "/products"])
def test_bad_credentials_are_the_gateways_401(
    world: World, name: str, headers: list[tuple[str, str]], path: str
) -> None:
    with httpx.Client(base_url=world.gatekey.url, timeout=10) as anonymous:
        response = anonymous.get(path, headers=headers)
    assert_refused(response, statuses=(401,), gateway=True)
    assert response.json() == {"message": "Unauthorized"}


@pytest.mark.parametrize("control", ["\x0b", "\x0c", "\x00", "\x7f"], ids=["vertical tab", "form feed", "nul", "del"])
def test_a_control_character_in_the_authorization_header_is_401(world: World, control: str) -> None:
    """httpx refuses to send these, so the request goes over a raw socket, as any client could send it."""
    status, body = raw_get(world.gatekey.url, "/v1/me", f"Authorization: Bearer{control}{world.gatekey.admin_token}")
    assert status == 401 and json.loads(body) == {"message": "Unauthorized"}
    assert world.gatekey.admin_token not in body


def raw_get(url: str, path: str, header_line: str) -> tuple[int, str]:
    host, port = url.removeprefix("http://").split(":")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{header_line}\r\nConnection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request.encode("latin-1"))
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body.decode()


def test_two_authorization_headers_are_401_even_if_one_is_the_admins(world: World) -> None:
    with httpx.Client(base_url=world.gatekey.url, timeout=10) as client:
        response = client.get(
            "/v1/me",
            headers=[("Authorization", f"Bearer {world.gatekey.admin_token}"), ("Authorization", "Bearer other")],
        )
    assert_refused(response, statuses=(401,), gateway=True)


def test_bearer_and_a_connection_token_of_another_shape_is_401_not_a_leak(world: World) -> None:
    response = world.admin.get("/v1/me", headers={"X-Connection-Token": "ctok_" + PASTED})
    assert_refused(response, statuses=(401,), gateway=True)


def test_after_all_of_it_the_server_still_serves(world: World) -> None:
    assert world.gatekey.process.poll() is None
    assert httpx.get(f"{world.gatekey.url}/health", timeout=5).json() == {"status": "ok"}
    assert ok(world.admin.get("/v1/me"))["key"]["type"] == "main"
