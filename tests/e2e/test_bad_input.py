"""Bad input of every kind gets a 400 naming the problem, in the error shape, and the server keeps serving."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.server import RunningGatekey


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"label": ""}, "label"),
        ({"label": "x" * 101}, "label"),
        ({"label": 42}, "label"),
        ({"label": "ok", "permissions": {"teleport": "read"}}, "teleport"),
        ({"label": "ok", "permissions": {"products": "admin"}}, "permissions"),
        ({"label": "ok", "permissions": ["products"]}, "permissions"),
        ({"label": "ok", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"label": "ok", "expires_at": "next tuesday"}, "expires_at"),
        ({"label": "ok", "ip_allowlist": ["10.0.0.0/33"]}, "ip_allowlist.0: not an IP address or CIDR range"),
        ({"label": "ok", "recoverable": "yes please"}, "recoverable"),
        ({"label": "ok", "colour": "blue"}, "colour"),
        ({"label": "ok", "type": "galactic"}, "type"),
        ([], "body"),
    ],
)
def test_invalid_key_bodies_are_400_naming_the_field(gatekey: RunningGatekey, body: Any, named: str) -> None:
    with gatekey.admin() as admin:
        response = admin.post("/v1/keys", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message"}
    assert named in error["message"]


def test_malformed_json_is_400(gatekey: RunningGatekey) -> None:
    with gatekey.admin() as admin:
        response = admin.post("/v1/keys", content=b'{"label": "x",', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("the request body is not valid JSON: ")


def test_form_encoded_body_is_400_asking_for_json(gatekey: RunningGatekey) -> None:
    with gatekey.admin() as admin:
        response = admin.post("/v1/keys", data={"label": "x"})  # curl -d sends this Content-Type
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_content_type"
    assert "application/json" in response.json()["error"]["message"]


def test_bad_query_and_grace_period_are_400(gatekey: RunningGatekey) -> None:
    created = gatekey.create_key()
    with gatekey.admin() as admin:
        assert admin.get("/v1/keys", params={"limit": 0}).status_code == 400
        assert admin.get("/v1/keys", params={"limit": "many"}).status_code == 400
        assert admin.get("/v1/keys", params={"status": "sleeping"}).status_code == 400
        too_long = admin.post(f"/v1/keys/{created['id']}/rotate", json={"grace_period_seconds": 604801})
        assert too_long.status_code == 400
        assert "grace_period_seconds" in too_long.json()["error"]["message"]


def test_unicode_in_headers_is_refused_cleanly(gatekey: RunningGatekey) -> None:
    with gatekey.admin() as admin:
        version = admin.get("/v1/me", headers={"Gatekey-Version": "2026-11-01é".encode()})  # type: ignore[dict-item]
        assert version.status_code == 400
        assert version.json()["error"]["code"] == "unsupported_version"
        idempotency = admin.post("/v1/keys", json={"label": "x"}, headers={"Idempotency-Key": "clé".encode()})  # type: ignore[dict-item]
        assert idempotency.status_code == 400
        assert idempotency.json()["error"]["code"] == "invalid_idempotency_key"
    with gatekey.client(Authorization="Bearer gk_test_é".encode()) as client:  # type: ignore[arg-type]
        assert client.get("/products").status_code == 401


def test_server_keeps_serving_after_bad_input(gatekey: RunningGatekey) -> None:
    with gatekey.admin() as admin:
        for _ in range(3):
            admin.post("/v1/keys", content=b"\xff\xfe not json")
        assert admin.get("/v1/me").status_code == 200
    assert gatekey.process.poll() is None


@pytest.mark.parametrize("route", ["/v1/keys/{id}", "/v1/users/{id}", "/v1/connections/{id}"])
@pytest.mark.parametrize(
    "bad_id",
    ["x" * 3000, "key_short", "gk_test_7QqK3mZ1xR8vT2wY5nB0cDLh4Jf6Gs9Pk2Ve8Nt1Ua3Rc5Xy7Wb0Zq3wsiVa"],
    ids=["huge", "short", "a-token-pasted-as-id"],
)
def test_an_id_of_the_wrong_shape_is_404_and_never_echoed(gatekey: RunningGatekey, route: str, bad_id: str) -> None:
    """Not a storage error (a huge DynamoDB key is invalid), and a token pasted into a path is not repeated."""
    with gatekey.admin() as admin:
        read = admin.get(route.format(id=bad_id))
        deleted = admin.delete(route.format(id=bad_id))
    for response in (read, deleted):
        assert response.status_code == 404
        assert bad_id not in response.text and bad_id[:30] not in response.text
