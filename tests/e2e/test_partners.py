"""Partner keys over HTTP (DESIGN §6, Polytomic): customer orgs, their users and keys; nothing else.

Two `gatekey serve`s share one store, so `shop` and `rival` are two real partners with their own orgs.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.server import RunningGatekey, ok


def partner(gatekey: RunningGatekey) -> httpx.Client:
    return gatekey.client(gatekey.partner_token)


def customer_with_admin(gatekey: RunningGatekey, name: str, **org: Any) -> dict[str, Any]:
    """A customer org made by the partner, with an admin user holding a key the partner minted."""
    with partner(gatekey) as client:
        made = ok(client.post("/v1/orgs", json={"name": name, **org}), 201)
        user = ok(
            client.post(
                f"/v1/orgs/{made['id']}/users",
                json={
                    "email": f"admin@{name.lower().replace(' ', '-')}.example",
                    "name": f"{name} admin",
                    "role": "admin",
                },
            ),
            201,
        )
        key = ok(
            client.post(
                f"/v1/orgs/{made['id']}/users/{user['id']}/keys",
                json={"label": "first key", "permissions": {"keys": "write", "users": "write", "products": "read"}},
            ),
            201,
        )
    return {"org": made, "user": user, "key": key}


@pytest.fixture(scope="module")
def shop_customer(shop: RunningGatekey) -> dict[str, Any]:
    return customer_with_admin(shop, "Acme Retail")


@pytest.fixture(scope="module")
def rival_customer(rival: RunningGatekey) -> dict[str, Any]:
    return customer_with_admin(rival, "Rival Customer")


def test_the_polytomic_workflow(shop: RunningGatekey) -> None:
    """Partner creates an org, an admin user in it, and that user's key, which then manages the org."""
    with shop.admin() as admin:
        partner_org_id = ok(admin.get("/v1/me"))["org"]["id"]
    customer = customer_with_admin(shop, "Widget Co")
    org, user, key = customer["org"], customer["user"], customer["key"]
    assert org["id"].startswith("org_") and org["partner_id"] == partner_org_id and org["key_limit"] == 25
    assert (user["org_id"], user["role"]) == (org["id"], "admin")
    assert (key["org_id"], key["type"], key["user_id"]) == (org["id"], "personal", user["id"])
    assert key["permissions"] == {"keys": "write", "products": "read", "users": "write"}

    with shop.client(key["secret"]) as customer_admin:
        me = ok(customer_admin.get("/v1/me"))
        assert (me["org"]["id"], me["org"]["name"], me["user"]["id"]) == (org["id"], "Widget Co", user["id"])
        made = ok(
            customer_admin.post("/v1/keys", json={"label": "their integration", "permissions": {"products": "read"}}),
            201,
        )
        assert (made["org_id"], made["type"], made["created_by"]) == (org["id"], "main", user["id"])
        assert customer_admin.get("/v1/orgs").status_code == 403  # the customer is no partner
    with shop.client(made["secret"]) as integration:
        body = ok(integration.get("/products"))
        assert body["org_id"] == org["id"]


def test_a_partner_key_reaches_nothing_but_its_orgs(
    shop: RunningGatekey, shop_customer: dict[str, Any], rival_customer: dict[str, Any]
) -> None:
    with shop.admin() as admin:
        own_org = ok(admin.get("/v1/me"))["org"]["id"]
        own_key_id = ok(admin.get("/v1/me"))["key"]["id"]
    rival_org = rival_customer["org"]["id"]
    with partner(shop) as client:
        me = ok(client.get("/v1/me"))
        assert (me["key"]["type"], me["key"]["permissions"], me["org"]["id"]) == ("partner", {"orgs": "write"}, own_org)
        # Not the store API, not its own org's keys or users.
        for method, path in [
            ("GET", "/products"),
            ("POST", "/orders"),
            ("GET", "/v1/keys"),
            ("POST", "/v1/keys"),
            ("GET", f"/v1/keys/{own_key_id}"),
            ("GET", "/v1/users"),
            ("GET", "/v1/connections"),
            ("GET", "/v1/logs"),
        ]:
            assert client.request(method, path, json={} if method == "POST" else None).status_code == 403, path
        # Not another partner's org, nor its own org (which it did not create): 404, as for no org at all.
        for org_id in (rival_org, own_org, "org_doesnotexist0000000000"):
            assert client.get(f"/v1/orgs/{org_id}").status_code == 404
            assert client.delete(f"/v1/orgs/{org_id}").status_code == 404
            assert (
                client.post(f"/v1/orgs/{org_id}/users", json={"email": "x@y.example", "name": "X"}).status_code == 404
            )
            minted = client.post(
                f"/v1/orgs/{org_id}/users/{rival_customer['user']['id']}/keys", json={"label": "sneaky"}
            )
            assert minted.status_code == 404
        listed = {org["id"] for org in ok(client.get("/v1/orgs", params={"limit": 200}))["data"]}
    assert shop_customer["org"]["id"] in listed
    assert rival_org not in listed and own_org not in listed
    with partner(shop) as client:
        # A user of its own customer org, but under another org id: still 404.
        wrong_pair = client.post(
            f"/v1/orgs/{shop_customer['org']['id']}/users/{rival_customer['user']['id']}/keys", json={"label": "x"}
        )
    assert wrong_pair.status_code == 404


def test_other_keys_cannot_use_the_org_routes_or_grant_orgs(
    shop: RunningGatekey, shop_customer: dict[str, Any]
) -> None:
    with shop.admin() as admin:
        assert admin.get("/v1/orgs").status_code == 403
        assert admin.post("/v1/orgs", json={"name": "Mine"}).status_code == 403
        assert admin.get(f"/v1/orgs/{shop_customer['org']['id']}").status_code == 403
        granted = admin.post("/v1/keys", json={"label": "would-be partner", "permissions": {"orgs": "write"}})
        typed = admin.post("/v1/keys", json={"label": "would-be partner", "type": "partner"})
    assert granted.status_code == 400 and "orgs" in granted.json()["error"]["message"]
    assert typed.status_code == 400 and "type" in typed.json()["error"]["message"]
    with partner(shop) as client:
        minted = client.post(
            f"/v1/orgs/{shop_customer['org']['id']}/users/{shop_customer['user']['id']}/keys",
            json={"label": "over-reaching", "permissions": {"orgs": "write"}},
        )
    assert minted.status_code == 400 and "orgs" in minted.json()["error"]["message"]


def test_deleting_a_customer_org_ends_its_keys_and_users(shop: RunningGatekey) -> None:
    customer = customer_with_admin(shop, "Short Lived")
    org_id = customer["org"]["id"]
    with shop.client(customer["key"]["secret"]) as customer_admin:
        their_main = ok(customer_admin.post("/v1/keys", json={"label": "theirs"}), 201)
        assert customer_admin.get("/products").status_code == 200
    with partner(shop) as client:
        assert ok(client.delete(f"/v1/orgs/{org_id}"))["id"] == org_id
        assert client.get(f"/v1/orgs/{org_id}").status_code == 404
        assert client.delete(f"/v1/orgs/{org_id}").status_code == 404
        assert org_id not in {org["id"] for org in ok(client.get("/v1/orgs", params={"limit": 200}))["data"]}
        late_user = client.post(f"/v1/orgs/{org_id}/users", json={"email": "late@x.example", "name": "Late"})
    assert late_user.status_code == 404
    for token in (customer["key"]["secret"], their_main["secret"]):
        with shop.client(token) as gone:
            assert gone.get("/v1/me").status_code == 401
            assert gone.get("/products").status_code == 401


def test_a_customer_orgs_keys_count_against_its_own_limit(shop: RunningGatekey) -> None:
    customer = customer_with_admin(shop, "Tiny Co", key_limit=2)
    with partner(shop) as client:
        path = f"/v1/orgs/{customer['org']['id']}/users/{customer['user']['id']}/keys"
        assert client.post(path, json={"label": "second"}).status_code == 201
        refused = client.post(path, json={"label": "third"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "key_limit_reached")
    with shop.admin() as admin:  # the partner's own org is untouched by its customers' keys
        assert admin.post("/v1/keys", json={"label": "partner org still has room"}).status_code == 201


def test_orgs_list_in_pages_and_a_cursor_stays_with_its_partner(shop: RunningGatekey, rival: RunningGatekey) -> None:
    with partner(shop) as client:
        for n in range(3):
            ok(client.post("/v1/orgs", json={"name": f"Paged {n}"}), 201)
        seen: list[str] = []
        cursors: list[str] = []
        while True:
            page = ok(client.get("/v1/orgs", params={"limit": 2, **({"cursor": cursors[-1]} if cursors else {})}))
            seen += [org["id"] for org in page["data"]]
            if page["next_cursor"] is None:
                break
            cursors.append(page["next_cursor"])
    assert len(seen) == len(set(seen)) >= 3
    with partner(rival) as other:
        stolen = other.get("/v1/orgs", params={"cursor": cursors[0]})
    assert (stolen.status_code, stolen.json()["error"]["code"]) == (400, "invalid_cursor")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "X", "key_limit": 0}, "key_limit"),
        ({"name": "X", "plan": "gold"}, "plan"),
    ],
)
def test_a_bad_org_body_is_400_naming_the_field(shop: RunningGatekey, body: dict[str, Any], named: str) -> None:
    with partner(shop) as client:
        response = client.post("/v1/orgs", json=body)
    assert response.status_code == 400
    assert named in response.json()["error"]["message"]
