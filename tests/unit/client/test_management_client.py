"""GatekeyClient against a server that records what arrives (httpx.MockTransport) and answers like the API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from gatekey.client import BearerAuth, GatekeyApiError, GatekeyClient, HmacAuth
from gatekey.domain.signing import SIGNING_HEADERS, sign_request
from gatekey.settings import API_VERSION

TOKEN = "gk_test_7QqK3mZ1xR8vT2wY5nB0cDLh4Jf6Gs9Pk2Ve8Nt1Ua3Rc5Xy7Wb0Zq3wsiVa"


def key_object(key_id: str = "key_7QqK3mZ1xR8vT2wY5nB0cD", **fields: Any) -> dict[str, Any]:
    return {
        "id": key_id,
        "org_id": "org_demo",
        "type": "main",
        "user_id": None,
        "label": "ci",
        "hint": "gk_test_7QqK…siVa",
        "auth_mode": "bearer",
        "permissions": {"products": "write"},
        "status": "active",
        "created_at": "2026-01-01T00:00:00.000Z",
        "created_by": "usr_admin",
        "last_used_at": None,
        "expires_at": None,
        "ip_allowlist": [],
        "recoverable": False,
        "rotation": None,
        "rotated_at": None,
        "plan": None,
        **fields,
    }


class ApiServer:
    """Keeps each request as it arrived and answers with `answer` (a key object by default)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answer: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(200, json=key_object())

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    @property
    def last_body(self) -> Any:
        return json.loads(self.requests[-1].content)


@pytest.fixture
def server() -> ApiServer:
    return ApiServer()


@pytest.fixture
def client(server: ApiServer) -> Iterator[GatekeyClient]:
    with GatekeyClient("https://api.test/dev", BearerAuth(TOKEN), transport=httpx.MockTransport(server)) as client:
        yield client


def test_requests_carry_the_version_and_reach_the_stage(client: GatekeyClient, server: ApiServer) -> None:
    key = client.get_key("key_7QqK3mZ1xR8vT2wY5nB0cD")

    request = server.requests[0]
    assert request.url == "https://api.test/dev/v1/keys/key_7QqK3mZ1xR8vT2wY5nB0cD"
    assert request.headers["Gatekey-Version"] == API_VERSION
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert key.permissions == {"products": "write"}


def test_me_says_who_the_key_is(client: GatekeyClient, server: ApiServer) -> None:
    org = {"id": "org_demo", "name": "Demo Store", "key_limit": 25, "created_at": "2026-01-01T00:00:00.000Z"}
    server.answer = lambda request: httpx.Response(
        200, json={"key": key_object(), "org": org, "user": None, "connection": None}
    )

    me = client.me()

    assert server.requests[0].url.path == "/dev/v1/me"
    assert (me.key.id, me.org.name, me.user) == ("key_7QqK3mZ1xR8vT2wY5nB0cD", "Demo Store", None)


def test_an_hmac_client_signs_the_path_without_the_stage(server: ApiServer) -> None:
    server.answer = lambda request: httpx.Response(200, json={"data": [], "next_cursor": None})
    auth = HmacAuth("key_7QqK3mZ1xR8vT2wY5nB0cD", TOKEN, base_path="/dev", clock=lambda: 1767225600)

    with GatekeyClient("https://api.test/dev", auth, transport=httpx.MockTransport(server)) as client:
        client.list_keys(status="active", limit=10)

    request = server.requests[0]
    assert {name: request.headers[name] for name in SIGNING_HEADERS} == sign_request(
        key_id="key_7QqK3mZ1xR8vT2wY5nB0cD",
        token=TOKEN,
        method="GET",
        raw_path="/v1/keys",
        raw_query="status=active&limit=10",
        body=b"",
        timestamp=1767225600,
        nonce=request.headers["X-Gatekey-Nonce"],
    )


def test_query_spaces_are_percent_20_never_plus(client: GatekeyClient, server: ApiServer) -> None:
    server.answer = lambda request: httpx.Response(200, json={"data": [], "next_cursor": None})

    client.list_keys(user_id="usr a+b", status="active", cursor="c/d==")

    assert server.requests[0].url.raw_path == b"/dev/v1/keys?status=active&user_id=usr%20a%2Bb&cursor=c%2Fd%3D%3D"


def test_path_segments_are_percent_encoded(client: GatekeyClient, server: ApiServer) -> None:
    client.revoke_key("key_../x y")

    request = server.requests[0]
    assert request.method == "DELETE"
    assert request.url.raw_path == b"/dev/v1/keys/key_..%2Fx%20y"


def test_create_key_sends_json_with_utc_times(client: GatekeyClient, server: ApiServer) -> None:
    server.answer = lambda request: httpx.Response(201, json={**key_object(auth_mode="hmac"), "secret": TOKEN})

    created = client.create_key(
        label="ci",
        permissions={"products": "write"},
        auth_mode="hmac",
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
        rotation={"interval_days": 30, "grace_period_seconds": 60},
        idempotency_key="create-ci-1",
    )

    request = server.requests[0]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "create-ci-1"
    assert server.last_body == {
        "label": "ci",
        "type": "main",
        "auth_mode": "hmac",
        "recoverable": False,
        "permissions": {"products": "write"},
        "expires_at": "2027-01-01T00:00:00.000Z",
        "rotation": {"interval_days": 30, "grace_period_seconds": 60},
    }
    assert created.secret == TOKEN


def test_a_naive_time_is_refused_before_sending(client: GatekeyClient, server: ApiServer) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        client.create_key(label="ci", expires_at=datetime(2027, 1, 1))

    assert server.requests == []


def test_update_key_sends_only_the_fields_given(client: GatekeyClient, server: ApiServer) -> None:
    client.update_key("key_7QqK3mZ1xR8vT2wY5nB0cD", label="renamed")
    client.update_key("key_7QqK3mZ1xR8vT2wY5nB0cD", expires_at=None, rotation=None)

    first, second = (json.loads(request.content) for request in server.requests)
    assert server.requests[0].method == "PATCH"
    assert first == {"label": "renamed"}
    assert second == {"expires_at": None, "rotation": None}


def test_rotate_and_reveal_return_the_new_secret(client: GatekeyClient, server: ApiServer) -> None:
    server.answer = lambda request: httpx.Response(200, json={**key_object(), "secret": TOKEN})

    rotated = client.rotate_key("key_7QqK3mZ1xR8vT2wY5nB0cD", grace_period_seconds=300)
    revealed = client.reveal_key("key_7QqK3mZ1xR8vT2wY5nB0cD")

    rotate, reveal = server.requests
    assert (rotate.method, rotate.url.path, json.loads(rotate.content)) == (
        "POST",
        "/dev/v1/keys/key_7QqK3mZ1xR8vT2wY5nB0cD/rotate",
        {"grace_period_seconds": 300},
    )
    assert (reveal.method, reveal.url.path, reveal.content) == (
        "POST",
        "/dev/v1/keys/key_7QqK3mZ1xR8vT2wY5nB0cD/reveal",
        b"",
    )
    assert rotated.secret == revealed.secret == TOKEN


def test_iter_keys_follows_next_cursor_to_the_end(client: GatekeyClient, server: ApiServer) -> None:
    pages = {
        None: {"data": [key_object("key_a"), key_object("key_b")], "next_cursor": "page 2"},
        "page 2": {"data": [key_object("key_c")], "next_cursor": "page+3"},
        "page+3": {"data": [], "next_cursor": None},
    }

    server.answer = lambda request: httpx.Response(200, json=pages[request.url.params.get("cursor")])

    ids = [key.id for key in client.iter_keys(type="personal", limit=2)]

    assert ids == ["key_a", "key_b", "key_c"]
    assert [request.url.raw_path for request in server.requests] == [
        b"/dev/v1/keys?type=personal&limit=2",
        b"/dev/v1/keys?type=personal&limit=2&cursor=page%202",
        b"/dev/v1/keys?type=personal&limit=2&cursor=page%2B3",
    ]


def test_api_errors_are_raised_with_their_code_and_message(client: GatekeyClient, server: ApiServer) -> None:
    body = {"error": {"code": "key_limit_reached", "message": "the organisation already has 25 keys"}}
    server.answer = lambda request: httpx.Response(409, json=body)

    with pytest.raises(GatekeyApiError) as raised:
        client.create_key(label="one too many")

    assert (raised.value.status_code, raised.value.code, raised.value.message) == (
        409,
        "key_limit_reached",
        "the organisation already has 25 keys",
    )
    assert "key_limit_reached" in str(raised.value)


@pytest.mark.parametrize(("status", "code"), [(401, "unauthorized"), (403, "forbidden"), (429, "too_many_requests")])
def test_gateway_answers_get_a_code_from_their_status(
    client: GatekeyClient, server: ApiServer, status: int, code: str
) -> None:
    server.answer = lambda request: httpx.Response(status, json={"message": "Unauthorized"})

    with pytest.raises(GatekeyApiError) as raised:
        client.me()

    assert (raised.value.status_code, raised.value.code, raised.value.message) == (status, code, "Unauthorized")


def test_a_non_json_error_keeps_its_text(client: GatekeyClient, server: ApiServer) -> None:
    server.answer = lambda request: httpx.Response(502, text="Bad Gateway from the load balancer")

    with pytest.raises(GatekeyApiError) as raised:
        client.me()

    assert (raised.value.code, raised.value.message) == ("bad_gateway", "Bad Gateway from the load balancer")


def user_object(user_id: str = "usr_admin", **fields: Any) -> dict[str, Any]:
    return {
        "id": user_id,
        "org_id": "org_demo",
        "email": "ada@example.com",
        "name": "Ada",
        "role": "member",
        "created_at": "2026-01-01T00:00:00.000Z",
        **fields,
    }


def org_object(org_id: str = "org_widget", **fields: Any) -> dict[str, Any]:
    return {
        "id": org_id,
        "name": "Widget Co",
        "key_limit": 25,
        "created_at": "2026-01-01T00:00:00.000Z",
        "partner_id": "org_demo",
        "plan": None,
        **fields,
    }


def connection_object(connection_id: str = "conn_hubspot", **fields: Any) -> dict[str, Any]:
    return {
        "id": connection_id,
        "org_id": "org_demo",
        "provider_slug": "hubspot",
        "end_user_id": "end-user-42",
        "created_at": "2026-01-01T00:00:00.000Z",
        "created_by": "usr_admin",
        **fields,
    }


def test_me_sends_the_connection_token_only_when_given(client: GatekeyClient, server: ApiServer) -> None:
    connection = {key: value for key, value in connection_object().items() if key not in {"org_id", "created_by"}}
    server.answer = lambda request: httpx.Response(
        200, json={"key": key_object(), "org": org_object("org_demo"), "user": user_object(), "connection": connection}
    )

    me = client.me(connection_token="ctok_secret")
    client.me()

    with_token, without = server.requests
    assert with_token.headers["X-Connection-Token"] == "ctok_secret"
    assert "X-Connection-Token" not in without.headers
    assert me.connection is not None
    assert (me.connection.id, me.connection.end_user_id) == ("conn_hubspot", "end-user-42")


def test_create_user_posts_the_user_with_its_idempotency_key(client: GatekeyClient, server: ApiServer) -> None:
    server.answer = lambda request: httpx.Response(201, json=user_object("usr_ada", role="admin"))

    user = client.create_user(email="ada@example.com", name="Ada", role="admin", idempotency_key="add-ada")
    client.create_user(email="bob@example.com", name="Bob")

    first, second = server.requests
    assert (first.method, first.url.path, first.headers["Idempotency-Key"]) == ("POST", "/dev/v1/users", "add-ada")
    assert json.loads(first.content) == {"email": "ada@example.com", "name": "Ada", "role": "admin"}
    assert json.loads(second.content) == {"email": "bob@example.com", "name": "Bob", "role": "member"}
    assert "Idempotency-Key" not in second.headers
    assert (user.id, user.role) == ("usr_ada", "admin")


def test_create_connection_returns_its_token(client: GatekeyClient, server: ApiServer) -> None:
    server.answer = lambda request: httpx.Response(201, json={**connection_object(), "connection_token": "ctok_x"})

    created = client.create_connection(provider_slug="hubspot", end_user_id="end-user-42", idempotency_key="conn-1")

    request = server.requests[0]
    assert (request.method, request.url.path, request.headers["Idempotency-Key"]) == (
        "POST",
        "/dev/v1/connections",
        "conn-1",
    )
    assert server.last_body == {"provider_slug": "hubspot", "end_user_id": "end-user-42"}
    assert (created.id, created.connection_token) == ("conn_hubspot", "ctok_x")


def test_create_org_sends_a_key_limit_only_when_given(client: GatekeyClient, server: ApiServer) -> None:
    server.answer = lambda request: httpx.Response(201, json=org_object(key_limit=2))

    org = client.create_org(name="Tiny Co", key_limit=2, idempotency_key="org-tiny")
    client.create_org(name="Widget Co")

    first, second = server.requests
    assert (first.method, first.url.path, first.headers["Idempotency-Key"]) == ("POST", "/dev/v1/orgs", "org-tiny")
    assert json.loads(first.content) == {"name": "Tiny Co", "key_limit": 2}
    assert json.loads(second.content) == {"name": "Widget Co"}
    assert (org.id, org.key_limit, org.partner_id) == ("org_widget", 2, "org_demo")


def test_create_org_user_posts_under_the_org(client: GatekeyClient, server: ApiServer) -> None:
    server.answer = lambda request: httpx.Response(201, json=user_object("usr_boss", org_id="org_widget"))

    user = client.create_org_user(
        "org_widget", email="boss@widget.example", name="Boss", role="admin", idempotency_key="boss-1"
    )

    request = server.requests[0]
    assert (request.method, request.url.path, request.headers["Idempotency-Key"]) == (
        "POST",
        "/dev/v1/orgs/org_widget/users",
        "boss-1",
    )
    assert server.last_body == {"email": "boss@widget.example", "name": "Boss", "role": "admin"}
    assert (user.id, user.org_id) == ("usr_boss", "org_widget")


def test_create_org_user_key_sends_the_key_settings(client: GatekeyClient, server: ApiServer) -> None:
    minted = {**key_object(org_id="org_widget", type="personal", user_id="usr_boss"), "secret": TOKEN}
    server.answer = lambda request: httpx.Response(201, json=minted)

    key = client.create_org_user_key(
        "org_widget",
        "usr_boss",
        label="first key",
        permissions={"keys": "write"},
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
        ip_allowlist=["10.0.0.0/8"],
        idempotency_key="boss-key-1",
    )

    request = server.requests[0]
    assert (request.method, request.url.path, request.headers["Idempotency-Key"]) == (
        "POST",
        "/dev/v1/orgs/org_widget/users/usr_boss/keys",
        "boss-key-1",
    )
    assert server.last_body == {
        "label": "first key",
        "auth_mode": "bearer",
        "recoverable": False,
        "permissions": {"keys": "write"},
        "expires_at": "2027-01-01T00:00:00.000Z",
        "ip_allowlist": ["10.0.0.0/8"],
    }
    assert (key.org_id, key.user_id, key.secret) == ("org_widget", "usr_boss", TOKEN)


@pytest.mark.parametrize(
    ("read", "path", "answer"),
    [
        (lambda client: client.get_user("usr_a/b"), "/dev/v1/users/usr_a%2Fb", user_object()),
        (lambda client: client.get_connection("conn_a/b"), "/dev/v1/connections/conn_a%2Fb", connection_object()),
        (lambda client: client.get_org("org_a/b"), "/dev/v1/orgs/org_a%2Fb", org_object()),
    ],
)
def test_get_reads_one_object_by_its_encoded_id(
    client: GatekeyClient,
    server: ApiServer,
    read: Callable[[GatekeyClient], Any],
    path: str,
    answer: dict[str, Any],
) -> None:
    server.answer = lambda request: httpx.Response(200, json=answer)

    read_back = read(client)

    request = server.requests[0]
    assert (request.method, request.url.raw_path.decode()) == ("GET", path)
    assert read_back.model_dump() == answer


@pytest.mark.parametrize(
    ("delete", "path", "answer"),
    [
        (lambda client: client.delete_user("usr_ada"), "/dev/v1/users/usr_ada", user_object("usr_ada")),
        (
            lambda client: client.delete_connection("conn_hubspot"),
            "/dev/v1/connections/conn_hubspot",
            connection_object(),
        ),
        (lambda client: client.delete_org("org_widget"), "/dev/v1/orgs/org_widget", org_object()),
    ],
)
def test_delete_answers_with_the_deleted_object(
    client: GatekeyClient,
    server: ApiServer,
    delete: Callable[[GatekeyClient], Any],
    path: str,
    answer: dict[str, Any],
) -> None:
    server.answer = lambda request: httpx.Response(200, json=answer)

    deleted = delete(client)

    request = server.requests[0]
    assert (request.method, request.url.path, request.content) == ("DELETE", path, b"")
    assert deleted.model_dump() == answer


@pytest.mark.parametrize(
    ("iterate", "path", "item"),
    [
        (lambda client: client.iter_users(limit=2), "/dev/v1/users", user_object),
        (lambda client: client.iter_connections(limit=2), "/dev/v1/connections", connection_object),
        (lambda client: client.iter_orgs(limit=2), "/dev/v1/orgs", org_object),
    ],
)
def test_iterators_follow_next_cursor_to_the_end(
    client: GatekeyClient,
    server: ApiServer,
    iterate: Callable[[GatekeyClient], Iterator[Any]],
    path: str,
    item: Callable[[str], dict[str, Any]],
) -> None:
    pages = {
        None: {"data": [item("id_a"), item("id_b")], "next_cursor": "page 2"},
        "page 2": {"data": [item("id_c")], "next_cursor": None},
    }
    server.answer = lambda request: httpx.Response(200, json=pages[request.url.params.get("cursor")])

    ids = [found.id for found in iterate(client)]

    assert ids == ["id_a", "id_b", "id_c"]
    assert [request.url.raw_path.decode() for request in server.requests] == [
        f"{path}?limit=2",
        f"{path}?limit=2&cursor=page%202",
    ]


@pytest.mark.parametrize(
    ("list_page", "path"),
    [
        (lambda client, **query: client.list_users(**query), "/dev/v1/users"),
        (lambda client, **query: client.list_connections(**query), "/dev/v1/connections"),
        (lambda client, **query: client.list_orgs(**query), "/dev/v1/orgs"),
    ],
)
def test_list_sends_limit_and_cursor_only_when_given(
    client: GatekeyClient, server: ApiServer, list_page: Callable[..., Any], path: str
) -> None:
    server.answer = lambda request: httpx.Response(200, json={"data": [], "next_cursor": None})

    page = list_page(client, limit=10, cursor="c/d==")
    list_page(client)

    assert [request.url.raw_path.decode() for request in server.requests] == [
        f"{path}?limit=10&cursor=c%2Fd%3D%3D",
        path,
    ]
    assert (page.data, page.next_cursor) == ([], None)
