"""A customer's journey with Bearer keys, over HTTP through `gatekey serve`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.e2e.server import RunningGatekey

UNAUTHORIZED = {"message": "Unauthorized"}


def iso_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_health_and_openapi_are_public(gatekey: RunningGatekey) -> None:
    with gatekey.client() as anonymous:
        assert anonymous.get("/health").json() == {"status": "ok"}
        document = anonymous.get("/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/v1/keys" in document["paths"]
    assert "/v1/keys/{key_id}/rotate" in document["paths"]
    assert "/v1/keys/{key_id}/reveal" in document["paths"]


def test_key_reaches_the_routes_it_may_use_and_no_others(gatekey: RunningGatekey) -> None:
    created = gatekey.create_key(label="catalog reader", permissions={"products": "read", "orders": "write"})
    assert created["secret"].startswith("gk_test_")
    assert created["status"] == "active"
    assert created["hint"].startswith("gk_test_") and "…" in created["hint"]
    with gatekey.client(created["secret"]) as client:
        listed = client.get("/products")
        assert listed.status_code == 200
        assert listed.json()["key_id"] == created["id"]
        assert listed.json()["org_id"] == created["org_id"]
        assert client.get("/products/p_1").status_code == 200
        assert client.post("/orders/o_1/retry").status_code == 200
        assert client.post("/orders", json={}).status_code == 201
        denied = client.post("/products", json={"name": "lamp"})
        assert denied.status_code == 403
        assert denied.headers["Gatekey-Version"] == "2026-11-01"
        assert client.get("/customers").status_code == 403
        assert client.get("/v1/keys").status_code == 403
        me = client.get("/v1/me")
        assert me.status_code == 200
        assert me.json()["key"]["id"] == created["id"]
        assert me.json()["org"]["name"] == "Demo Store"


def test_unusable_credentials_are_401(gatekey: RunningGatekey) -> None:
    created = gatekey.create_key(permissions={"products": "read"})
    token = created["secret"]
    tampered_checksum = token[:-1] + ("A" if token[-1] != "A" else "B")
    unknown = "gk_test_" + "0" * 54
    from gatekey.domain.tokens import checksum

    unknown += checksum(unknown)
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {tampered_checksum}"},
        {"Authorization": f"Bearer {unknown}"},
    ):
        with gatekey.client(**headers) as client:
            response = client.get("/products")
        assert response.status_code == 401, headers
        assert response.json() == UNAUTHORIZED
        assert response.headers["Gatekey-Version"] == "2026-11-01"


def test_revoked_key_stops_working_at_once(gatekey: RunningGatekey) -> None:
    created = gatekey.create_key(permissions={"products": "read"})
    with gatekey.client(created["secret"]) as client:
        assert client.get("/products").status_code == 200
        with gatekey.admin() as admin:
            revoked = admin.delete(f"/v1/keys/{created['id']}")
        assert revoked.status_code == 200
        assert revoked.json()["status"] == "revoked"
        assert client.get("/products").status_code == 401


def test_expired_key_is_401(gatekey: RunningGatekey) -> None:
    created = gatekey.create_key(permissions={"products": "read"}, expires_at=iso_in(1.5))
    with gatekey.client(created["secret"]) as client:
        assert client.get("/products").status_code == 200
        time.sleep(2)
        assert client.get("/products").status_code == 401
    with gatekey.admin() as admin:
        assert admin.get(f"/v1/keys/{created['id']}").json()["status"] == "expired"


def test_rotation_without_grace_kills_the_old_secret_at_once(gatekey: RunningGatekey) -> None:
    created = gatekey.create_key(permissions={"products": "read"})
    with gatekey.admin() as admin:
        rotated = admin.post(f"/v1/keys/{created['id']}/rotate", json={})
    assert rotated.status_code == 200
    assert rotated.json()["id"] == created["id"]
    assert rotated.json()["rotated_at"] is not None
    with gatekey.client(created["secret"]) as old, gatekey.client(rotated.json()["secret"]) as new:
        assert old.get("/products").status_code == 401
        assert new.get("/products").status_code == 200


def test_rotation_with_grace_keeps_both_secrets_until_it_ends(gatekey: RunningGatekey) -> None:
    created = gatekey.create_key(permissions={"products": "read"})
    with gatekey.admin() as admin:
        rotated = admin.post(f"/v1/keys/{created['id']}/rotate", json={"grace_period_seconds": 2}).json()
    with gatekey.client(created["secret"]) as old, gatekey.client(rotated["secret"]) as new:
        assert old.get("/products").status_code == 200
        assert new.get("/products").status_code == 200
        time.sleep(2.5)
        assert old.get("/products").status_code == 401
        assert new.get("/products").status_code == 200


def test_keys_are_listed_newest_first_with_cursor_and_filters(gatekey: RunningGatekey) -> None:
    made = [gatekey.create_key(label=f"page {n}")["id"] for n in range(3)]
    with gatekey.admin() as admin:
        first = admin.get("/v1/keys", params={"limit": 2}).json()
        assert [key["id"] for key in first["data"]] == [made[2], made[1]]
        assert "secret" not in first["data"][0]
        second = admin.get("/v1/keys", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert second["data"][0]["id"] == made[0]
        revoked = admin.get("/v1/keys", params={"status": "revoked", "limit": 200}).json()
        assert all(key["status"] == "revoked" for key in revoked["data"])
        altered_check = first["next_cursor"][:-2] + ("00" if not first["next_cursor"].endswith("00") else "11")
        tampered = admin.get("/v1/keys", params={"cursor": altered_check})
        assert tampered.status_code == 400
        assert tampered.json()["error"]["code"] == "invalid_cursor"


def test_edit_changes_what_the_key_may_do(gatekey: RunningGatekey) -> None:
    created = gatekey.create_key(permissions={"products": "read"})
    with gatekey.admin() as admin:
        edited = admin.patch(f"/v1/keys/{created['id']}", json={"label": "renamed", "permissions": {"orders": "read"}})
    assert edited.status_code == 200
    assert edited.json()["label"] == "renamed"
    with gatekey.client(created["secret"]) as client:
        assert client.get("/orders").status_code == 200
        assert client.get("/products").status_code == 403


def test_nobody_grants_more_than_they_hold(gatekey: RunningGatekey) -> None:
    manager = gatekey.create_key(permissions={"keys": "write", "products": "read"})
    with gatekey.client(manager["secret"]) as client:
        escalation = client.post("/v1/keys", json={"label": "x", "permissions": {"products": "write"}})
        assert escalation.status_code == 403
        assert escalation.json()["error"]["code"] == "insufficient_authority"
        assert "products:write" in escalation.json()["error"]["message"]
        assert client.post("/v1/keys", json={"label": "x", "permissions": {"products": "read"}}).status_code == 201


def test_other_tenants_keys_are_404(gatekey: RunningGatekey) -> None:
    with gatekey.admin() as admin:
        response = admin.get("/v1/keys/key_0000000000000000000000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_idempotent_create_replays_the_first_response(gatekey: RunningGatekey) -> None:
    body = {"label": "idempotent", "permissions": {"products": "read"}}
    with gatekey.admin() as admin:
        first = admin.post("/v1/keys", json=body, headers={"Idempotency-Key": "create-1"})
        again = admin.post("/v1/keys", json=body, headers={"Idempotency-Key": "create-1"})
        different = admin.post("/v1/keys", json={**body, "label": "other"}, headers={"Idempotency-Key": "create-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert different.status_code == 409
    assert different.json()["error"]["code"] == "idempotency_conflict"
    with gatekey.client(again.json()["secret"]) as client:
        assert client.get("/products").status_code == 200


def test_api_version_header(gatekey: RunningGatekey) -> None:
    with gatekey.admin() as admin:
        assert admin.get("/v1/me").headers["Gatekey-Version"] == "2026-11-01"
        assert admin.get("/v1/me", headers={"Gatekey-Version": "2026-11-01"}).status_code == 200
        unknown = admin.get("/v1/me", headers={"Gatekey-Version": "2020-01-01"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unsupported_version"
