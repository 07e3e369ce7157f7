"""Every request is logged and readable through `GET /v1/logs`, over HTTP through two `gatekey serve`s that share
one store: two organisations, so isolation is checked on real tenants."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from gatekey.settings import STAGES
from gatekey.storage.tables import REQUEST_LOGS_TABLE, stage_table_names
from tests.e2e.server import RunningGatekey


def logs(gatekey: RunningGatekey, **query: Any) -> dict[str, Any]:
    with gatekey.admin() as admin:
        response = admin.get("/v1/logs", params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def eventually(read: Callable[[], dict[str, Any]], ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Lines reach the store about a second after the request, as with CloudWatch Logs."""
    deadline = time.monotonic() + 10
    while True:
        body = read()
        if ready(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


@pytest.fixture(scope="module")
def traffic(shop: RunningGatekey) -> dict[str, Any]:
    """Requests of one key: 200, 201, 404 from the backend, 403 by permission, and one 401 with no key."""
    key = shop.create_key(label="logged", permissions={"products": "write"})
    with shop.client(key["secret"], **{"User-Agent": "e2e-logs/1"}) as client:
        statuses = [
            client.get("/products").status_code,
            client.post("/products", json={"name": "lamp"}).status_code,
            client.get("/products/p_1/missing").status_code,
            client.get("/orders").status_code,
        ]
    with shop.client("gk_test_" + "0" * 60) as stranger:
        stranger.get("/products")
    assert statuses == [200, 201, 404, 403]
    eventually(lambda: logs(shop, key_id=key["id"]), lambda body: len(body["data"]) >= 4)
    return key


def test_each_request_is_logged_with_its_real_status_and_fields(shop: RunningGatekey, traffic: dict[str, Any]) -> None:
    entries = logs(shop, key_id=traffic["id"])["data"]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in entries] == [
        ("GET", "/orders", 403),
        ("GET", "/products/p_1/missing", 404),
        ("POST", "/products", 201),
        ("GET", "/products", 200),
    ]
    newest = entries[0]
    assert set(newest) == {
        "request_id",
        "key_id",
        "method",
        "path",
        "status",
        "latency_ms",
        "ip",
        "user_agent",
        "timestamp",
    }
    assert (newest["key_id"], newest["ip"], newest["user_agent"]) == (traffic["id"], "127.0.0.1", "e2e-logs/1")
    assert newest["latency_ms"] >= 0 and newest["timestamp"].endswith("Z")
    assert len({entry["request_id"] for entry in entries}) == 4


def test_requests_without_a_valid_key_are_in_no_orgs_log(shop: RunningGatekey, traffic: dict[str, Any]) -> None:
    entries = logs(shop, limit=200)["data"]
    assert all(entry["key_id"] for entry in entries)
    assert 401 not in {entry["status"] for entry in entries}


def test_filters_narrow_the_log(shop: RunningGatekey, traffic: dict[str, Any]) -> None:
    assert [e["status"] for e in logs(shop, key_id=traffic["id"], status=403)["data"]] == [403]
    assert [e["path"] for e in logs(shop, key_id=traffic["id"], method="POST")["data"]] == ["/products"]
    everything = logs(shop, key_id=traffic["id"])["data"]
    oldest, newest = everything[-1]["timestamp"], everything[0]["timestamp"]
    assert len(logs(shop, key_id=traffic["id"], since=oldest, until=newest)["data"]) == 4
    assert logs(shop, key_id=traffic["id"], since=newest)["data"][-1]["timestamp"] == newest
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert logs(shop, key_id=traffic["id"], since=later)["data"] == []
    assert logs(shop, until="2000-01-01T00:00:00Z")["data"] == []  # wholly past retention: empty, not an error


def test_pages_follow_the_cursor_without_gaps_or_repeats(shop: RunningGatekey, traffic: dict[str, Any]) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = logs(shop, key_id=traffic["id"], limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [entry["request_id"] for entry in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [entry["request_id"] for entry in logs(shop, key_id=traffic["id"])["data"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "99"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"method": "FETCH"}, "method"),
        ({"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "until"),
    ],
)
def test_bad_filters_are_400_naming_the_field(shop: RunningGatekey, query: dict[str, str], field: str) -> None:
    with shop.admin() as admin:
        response = admin.get("/v1/logs", params=query)
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]


def test_another_org_never_sees_the_log(shop: RunningGatekey, rival: RunningGatekey, traffic: dict[str, Any]) -> None:
    assert logs(rival, key_id=traffic["id"])["data"] == []
    assert traffic["id"] not in {entry["key_id"] for entry in logs(rival, limit=200)["data"]}
    cursor = logs(shop, key_id=traffic["id"], limit=1)["next_cursor"]
    with rival.admin() as admin:
        assert admin.get("/v1/logs", params={"cursor": cursor}).status_code == 400


def test_logs_need_logs_read(shop: RunningGatekey) -> None:
    key = shop.create_key(label="no logs", permissions={"products": "read"})
    with shop.client(key["secret"]) as client:
        assert client.get("/v1/logs").status_code == 403
    reader = shop.create_key(label="log reader", permissions={"logs": "read"})
    with shop.client(reader["secret"]) as client:
        assert client.get("/v1/logs").status_code == 200


def test_the_key_shows_when_it_was_last_used(shop: RunningGatekey, traffic: dict[str, Any]) -> None:
    newest = logs(shop, key_id=traffic["id"])["data"][0]["timestamp"]
    with shop.admin() as admin:
        key = admin.get(f"/v1/keys/{traffic['id']}").json()
    assert key["last_used_at"] is not None
    assert key["last_used_at"] >= newest


def test_entries_past_retention_are_not_read_even_before_ttl_deletes_them(
    shop: RunningGatekey, storage_endpoint: str, traffic: dict[str, Any]
) -> None:
    """An entry 31 days old, still in the table (DynamoDB's TTL deletes up to days late)."""
    table_name = stage_table_names("local")[REQUEST_LOGS_TABLE.env_var]
    table = boto3.resource("dynamodb", endpoint_url=storage_endpoint).Table(table_name)  # the fixture's credentials
    sample = logs(shop, key_id=traffic["id"])["data"][0]
    stale = datetime.now(UTC) - timedelta(days=STAGES["local"].log_retention_days + 1)
    stamp = stale.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    table.put_item(
        Item={
            **{name: value for name, value in sample.items() if value is not None},
            "org_id": traffic["org_id"],
            "request_id": "req_stale",
            "timestamp": stamp,
            "log_sort": f"{stamp}#req_stale",
            "expires_at": int(time.time()) + 3600,
        }
    )
    everything = logs(shop, key_id=traffic["id"], since="2000-01-01T00:00:00Z", limit=200)["data"]
    assert "req_stale" not in {entry["request_id"] for entry in everything}
    assert len(everything) >= 4
