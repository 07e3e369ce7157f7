"""Connections over HTTP (DESIGN §1 Panora, §4, §7): an API key says who the customer is, a connection token
which of its end-users a call is for. Two `gatekey serve`s share one store, so isolation is checked on real tenants."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.server import RunningGatekey, start_gatekey

CONNECTION_FIELDS = {"id", "org_id", "provider_slug", "end_user_id", "created_at", "created_by"}


def create_connection(gatekey: RunningGatekey, **body: str) -> dict[str, Any]:
    body = {"provider_slug": "hubspot", "end_user_id": "end-user-42", **body}
    with gatekey.admin() as admin:
        response = admin.post("/v1/connections", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def for_connection(gatekey: RunningGatekey, key: dict[str, Any], connection_token: str) -> httpx.Client:
    return gatekey.client(key["secret"], **{"X-Connection-Token": connection_token})


@pytest.fixture(scope="module")
def store_key(shop: RunningGatekey) -> dict[str, Any]:
    return shop.create_key(label="store reader", permissions={"products": "read"})


@pytest.fixture(scope="module")
def connection(shop: RunningGatekey) -> dict[str, Any]:
    return create_connection(shop, provider_slug="salesforce", end_user_id="acme-user-7")


def test_created_connection_shows_its_token_once(shop: RunningGatekey, connection: dict[str, Any]) -> None:
    assert set(connection) == CONNECTION_FIELDS | {"connection_token"}
    assert connection["id"].startswith("conn_") and len(connection["id"]) == 27
    token = connection["connection_token"]
    assert token.startswith("ctok_" + connection["id"].removeprefix("conn_")) and len(token) == 5 + 22 + 32
    assert (connection["provider_slug"], connection["end_user_id"]) == ("salesforce", "acme-user-7")
    assert connection["created_at"].endswith("Z")
    with shop.admin() as admin:
        me = admin.get("/v1/me").json()
    assert connection["org_id"] == me["org"]["id"]
    assert connection["created_by"] == (me["key"]["user_id"] or me["key"]["id"])


def test_store_request_with_the_token_is_for_that_connection(
    shop: RunningGatekey, store_key: dict[str, Any], connection: dict[str, Any]
) -> None:
    with for_connection(shop, store_key, connection["connection_token"]) as client:
        response = client.get("/products")
    assert response.status_code == 200, response.text
    assert response.json()["connection_id"] == connection["id"]
    with shop.client(store_key["secret"]) as client:
        assert client.get("/products").json()["connection_id"] is None


def test_me_names_the_connection_only_when_the_token_comes_along(
    shop: RunningGatekey, store_key: dict[str, Any], connection: dict[str, Any]
) -> None:
    with for_connection(shop, store_key, connection["connection_token"]) as client:
        me = client.get("/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["connection"] == {
        "id": connection["id"],
        "provider_slug": "salesforce",
        "end_user_id": "acme-user-7",
        "created_at": connection["created_at"],
    }
    with shop.client(store_key["secret"]) as client:
        assert client.get("/v1/me").json()["connection"] is None


def test_listing_and_reading_never_show_the_token(shop: RunningGatekey, connection: dict[str, Any]) -> None:
    newer = create_connection(shop, end_user_id="newer-user")
    with shop.admin() as admin:
        listed = admin.get("/v1/connections")
        read = admin.get(f"/v1/connections/{connection['id']}")
    assert listed.status_code == 200 and read.status_code == 200
    ids = [item["id"] for item in listed.json()["data"]]
    assert ids.index(newer["id"]) < ids.index(connection["id"])  # newest first
    assert all(set(item) == CONNECTION_FIELDS for item in listed.json()["data"])
    assert read.json() == {name: connection[name] for name in CONNECTION_FIELDS}
    for token in (connection["connection_token"], newer["connection_token"]):
        assert token not in listed.text and token not in read.text


def test_pages_follow_the_cursor_without_gaps_or_repeats(shop: RunningGatekey) -> None:
    for number in range(3):
        create_connection(shop, end_user_id=f"paged-{number}")
    seen: list[str] = []
    cursor = None
    while True:
        with shop.admin() as admin:
            page = admin.get("/v1/connections", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["id"] for item in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    with shop.admin() as admin:
        everything = admin.get("/v1/connections", params={"limit": 200}).json()
    assert seen == [item["id"] for item in everything["data"]]
    assert everything["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "201", "many"])
def test_bad_limit_is_400(shop: RunningGatekey, limit: str) -> None:
    with shop.admin() as admin:
        response = admin.get("/v1/connections", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["message"]


def test_deleted_connections_token_is_401_from_the_next_request(
    shop: RunningGatekey, store_key: dict[str, Any]
) -> None:
    doomed = create_connection(shop, end_user_id="leaving-user")
    with for_connection(shop, store_key, doomed["connection_token"]) as client:
        assert client.get("/products").status_code == 200
        with shop.admin() as admin:
            deleted = admin.delete(f"/v1/connections/{doomed['id']}")
            assert deleted.status_code == 200, deleted.text
            assert deleted.json() == {name: doomed[name] for name in CONNECTION_FIELDS}
            assert client.get("/products").status_code == 401
            assert admin.get(f"/v1/connections/{doomed['id']}").status_code == 404
            assert admin.delete(f"/v1/connections/{doomed['id']}").status_code == 404
    with shop.client(store_key["secret"]) as client:
        assert client.get("/products").status_code == 200  # the key itself still works


@pytest.mark.parametrize("garbage", ["ctok_" + "0" * 54, "ctok_short", "not a token at all", ""])
def test_unknown_or_garbage_token_is_401(shop: RunningGatekey, store_key: dict[str, Any], garbage: str) -> None:
    with for_connection(shop, store_key, garbage) as client:
        response = client.get("/products")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_wrong_secret_for_a_real_connection_is_401(
    shop: RunningGatekey, store_key: dict[str, Any], connection: dict[str, Any]
) -> None:
    token = connection["connection_token"]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with for_connection(shop, store_key, forged) as client:
        assert client.get("/products").status_code == 401


def test_another_orgs_key_cannot_use_this_orgs_token(
    rival: RunningGatekey, connection: dict[str, Any], shop: RunningGatekey
) -> None:
    rival_key = rival.create_key(label="rival reader", permissions={"products": "read"})
    with for_connection(rival, rival_key, connection["connection_token"]) as client:
        assert client.get("/products").status_code == 401
        assert client.get("/v1/me").status_code == 401


def test_another_orgs_connection_is_404_and_stays(
    rival: RunningGatekey, shop: RunningGatekey, connection: dict[str, Any]
) -> None:
    with rival.admin() as admin:
        assert admin.get(f"/v1/connections/{connection['id']}").status_code == 404
        assert admin.delete(f"/v1/connections/{connection['id']}").status_code == 404
        assert connection["id"] not in {item["id"] for item in admin.get("/v1/connections").json()["data"]}
    create_connection(shop, end_user_id="second-user")  # so a page of one has a next cursor
    with shop.admin() as admin:
        assert admin.get(f"/v1/connections/{connection['id']}").status_code == 200
        cursor = admin.get("/v1/connections", params={"limit": 1}).json()["next_cursor"]
    with rival.admin() as admin:
        assert admin.get("/v1/connections", params={"cursor": cursor}).status_code == 400


def test_routes_need_the_connections_permission(shop: RunningGatekey, connection: dict[str, Any]) -> None:
    outsider = shop.create_key(label="no connections", permissions={"products": "write"})
    with shop.client(outsider["secret"]) as client:
        assert client.post("/v1/connections", json={"provider_slug": "x", "end_user_id": "y"}).status_code == 403
        assert client.get("/v1/connections").status_code == 403
        assert client.get(f"/v1/connections/{connection['id']}").status_code == 403
        assert client.delete(f"/v1/connections/{connection['id']}").status_code == 403
    reader = shop.create_key(label="connections reader", permissions={"connections": "read"})
    with shop.client(reader["secret"]) as client:
        assert client.get("/v1/connections").status_code == 200
        assert client.get(f"/v1/connections/{connection['id']}").status_code == 200
        assert client.post("/v1/connections", json={"provider_slug": "x", "end_user_id": "y"}).status_code == 403
        assert client.delete(f"/v1/connections/{connection['id']}").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider_slug": "hubspot"}, "end_user_id"),
        ({"end_user_id": "u-1"}, "provider_slug"),
        ({"provider_slug": "hubspot", "end_user_id": "u-1", "scope": "all"}, "scope"),
        ({"provider_slug": "h" * 101, "end_user_id": "u-1"}, "provider_slug"),
        ({"provider_slug": "hubspot", "end_user_id": ""}, "end_user_id"),
        ({"provider_slug": "hubspot", "end_user_id": 42}, "end_user_id"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(shop: RunningGatekey, body: dict[str, Any], field: str) -> None:
    with shop.admin() as admin:
        response = admin.post("/v1/connections", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert field in response.json()["error"]["message"]


def test_connections_are_refused_while_authorizer_results_are_cached(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A cached answer is keyed on the API key and IP, not the connection token: it could name another end-user."""
    with (
        start_gatekey(tmp_path_factory.mktemp("cached"), "--authorizer-cache-ttl", "60") as cached,
        cached.admin() as admin,
    ):
        response = admin.post("/v1/connections", json={"provider_slug": "hubspot", "end_user_id": "u-1"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "connections_unavailable"
    assert "caching" in error["message"]
