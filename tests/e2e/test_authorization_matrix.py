"""The authorization matrix over HTTP: key type, role, route, own or other org (DESIGN §5-§7, issue 5).

Two `gatekey serve`s share one store: `shop` is the org whose keys call, `rival` the other tenant whose ids
they try. The admin's and the member's personal keys hold the same permissions, so where their answers differ
it is the role that decides; the admin main key and the integration key differ in `keys:write` alone.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gatekey.domain.tokens import random_base62
from tests.e2e.server import RunningGatekey, ok

CALLERS = ("admin_main", "integration_main", "admin_personal", "member_personal", "partner")
PERSONAL_PERMISSIONS = {
    "keys": "write",
    "users": "write",
    "connections": "write",
    "logs": "read",
    "products": "read",
}
INTEGRATION_PERMISSIONS = {"keys": "read", "users": "read", "connections": "read", "logs": "read", "products": "read"}


@dataclass
class Tenant:
    tokens: dict[str, str]  # caller name → token
    ids: dict[str, str]  # object name → id


def _populate(gatekey: RunningGatekey) -> Tenant:
    """Every kind of caller, and one object of every kind, in the org this `gatekey serve` bootstrapped."""
    with gatekey.admin() as admin:
        admin_key_id = ok(admin.get("/v1/me"))["key"]["id"]

        def user(role: str) -> str:
            body = {"email": f"{role}-{secrets.token_hex(4)}@example.com", "name": role, "role": role}
            return str(ok(admin.post("/v1/users", json=body), 201)["id"])

        def key(**body: Any) -> dict[str, Any]:
            return ok(admin.post("/v1/keys", json={"label": "matrix", **body}), 201)

        admin_user, member, colleague = user("admin"), user("member"), user("member")
        admin_personal = key(type="personal", user_id=admin_user, permissions=PERSONAL_PERMISSIONS)
        member_personal = key(type="personal", user_id=member, permissions=PERSONAL_PERMISSIONS)
        integration = key(permissions=INTEGRATION_PERMISSIONS)
        connection = ok(admin.post("/v1/connections", json={"provider_slug": "hubspot", "end_user_id": "eu_1"}), 201)
        own_personal_key = key(type="personal", user_id=member)["id"]  # the member's own
        colleague_key = key(type="personal", user_id=colleague)["id"]
    with gatekey.client(gatekey.partner_token) as partner:
        customer_org = ok(partner.post("/v1/orgs", json={"name": "Customer"}), 201)["id"]
    return Tenant(
        tokens={
            "admin_main": gatekey.admin_token,
            "integration_main": integration["secret"],
            "admin_personal": admin_personal["secret"],
            "member_personal": member_personal["secret"],
            "partner": gatekey.partner_token,
        },
        ids={
            "main_key": admin_key_id,
            "own_personal_key": own_personal_key,
            "colleague_key": colleague_key,
            "user": colleague,
            "connection": connection["id"],
            "customer_org": customer_org,
        },
    )


@pytest.fixture(scope="module")
def own(shop: RunningGatekey) -> Tenant:
    return _populate(shop)


@pytest.fixture(scope="module")
def other(rival: RunningGatekey) -> Tenant:
    return _populate(rival)


def call(gatekey: RunningGatekey, token: str, method: str, path: str, body: dict[str, Any] | None) -> int:
    with gatekey.client(token) as client:
        return client.request(method, path, json=body).status_code


def new_user_body() -> dict[str, Any]:
    return {"email": f"new-{secrets.token_hex(4)}@example.com", "name": "New"}


# route, body (a callable makes a fresh one per call), then the status for each caller of CALLERS.
OWN_ORG_MATRIX: list[tuple[str, str, Callable[[], Any] | None, tuple[int, ...]]] = [
    ("GET", "/v1/me", None, (200, 200, 200, 200, 200)),
    ("GET", "/products", None, (200, 200, 200, 200, 403)),
    ("GET", "/v1/keys", None, (200, 200, 200, 200, 403)),
    ("GET", "/v1/keys/{main_key}", None, (200, 404, 200, 404, 403)),
    ("GET", "/v1/keys/{colleague_key}", None, (200, 200, 200, 404, 403)),
    ("GET", "/v1/keys/{own_personal_key}", None, (200, 200, 200, 200, 403)),
    ("PATCH", "/v1/keys/{main_key}", lambda: {"label": "renamed"}, (200, 403, 200, 404, 403)),
    ("PATCH", "/v1/keys/{colleague_key}", lambda: {"label": "renamed"}, (200, 403, 200, 404, 403)),
    ("PATCH", "/v1/keys/{own_personal_key}", lambda: {"label": "renamed"}, (200, 403, 200, 200, 403)),
    ("POST", "/v1/keys", lambda: {"label": "a main key"}, (201, 403, 201, 403, 403)),
    ("POST", "/v1/keys", lambda: {"label": "my own", "type": "personal"}, (400, 403, 201, 201, 403)),
    ("GET", "/v1/users", None, (200, 200, 200, 200, 403)),
    ("GET", "/v1/users/{user}", None, (200, 200, 200, 200, 403)),
    ("POST", "/v1/users", new_user_body, (201, 403, 201, 403, 403)),
    ("GET", "/v1/connections", None, (200, 200, 200, 200, 403)),
    ("GET", "/v1/connections/{connection}", None, (200, 200, 200, 200, 403)),
    ("GET", "/v1/logs", None, (200, 200, 200, 200, 403)),
    ("GET", "/v1/orgs", None, (403, 403, 403, 403, 200)),
    ("GET", "/v1/orgs/{customer_org}", None, (403, 403, 403, 403, 200)),
    ("POST", "/v1/orgs", lambda: {"name": "Another customer"}, (403, 403, 403, 403, 201)),
]


@pytest.mark.parametrize(
    ("method", "route", "body", "expected"),
    OWN_ORG_MATRIX,
    ids=[f"{method} {route} {index}" for index, (method, route, _, _) in enumerate(OWN_ORG_MATRIX)],
)
def test_own_org_answers_by_key_type_and_role(
    *,
    shop: RunningGatekey,
    own: Tenant,
    method: str,
    route: str,
    body: Callable[[], Any] | None,
    expected: tuple[int, ...],
) -> None:
    path = route.format(**own.ids)
    answers = tuple(call(shop, own.tokens[caller], method, path, body() if body else None) for caller in CALLERS)
    assert dict(zip(CALLERS, answers, strict=True)) == dict(zip(CALLERS, expected, strict=True))


# Routes naming another org's object: a caller the route's permission lets in gets 404, exactly as for an id
# that exists nowhere; a caller without it gets the authorizer's 403 before any id is looked at.
OBJECT_ROUTES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/v1/keys/{main_key}", None, "keys:read"),
    ("GET", "/v1/keys/{colleague_key}", None, "keys:read"),
    ("PATCH", "/v1/keys/{colleague_key}", {"label": "taken over"}, "keys:write"),
    ("POST", "/v1/keys/{colleague_key}/rotate", None, "keys:write"),
    ("POST", "/v1/keys/{colleague_key}/reveal", None, "keys:write"),
    ("DELETE", "/v1/keys/{main_key}", None, "keys:write"),
    ("POST", "/v1/keys", {"label": "for them", "type": "personal", "user_id": "{user}"}, "keys:write"),
    ("GET", "/v1/users/{user}", None, "users:read"),
    ("DELETE", "/v1/users/{user}", None, "users:write"),
    ("GET", "/v1/connections/{connection}", None, "connections:read"),
    ("DELETE", "/v1/connections/{connection}", None, "connections:write"),
    ("GET", "/v1/orgs/{customer_org}", None, "orgs:read"),
    ("DELETE", "/v1/orgs/{customer_org}", None, "orgs:write"),
    ("POST", "/v1/orgs/{customer_org}/users", {"email": "x@example.com", "name": "X"}, "orgs:write"),
    ("POST", "/v1/orgs/{customer_org}/users/{user}/keys", {"label": "minted"}, "orgs:write"),
]
HELD = {
    "admin_main": {"keys:write", "users:write", "connections:write"},
    "integration_main": {"keys:read", "users:read", "connections:read"},
    "admin_personal": {"keys:write", "users:write", "connections:write"},
    "member_personal": {"keys:write", "users:write", "connections:write"},
    "partner": {"orgs:write"},
}


def holds(caller: str, needed: str) -> bool:
    resource, level = needed.split(":")
    return needed in HELD[caller] or (level == "read" and f"{resource}:write" in HELD[caller])


def made_up_ids() -> dict[str, str]:
    return {
        "main_key": f"key_{random_base62(22)}",
        "colleague_key": f"key_{random_base62(22)}",
        "user": f"usr_{random_base62(22)}",
        "connection": f"conn_{random_base62(22)}",
        "customer_org": f"org_{random_base62(22)}",
    }


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {name: _fill(item, ids) for name, item in value.items()}
    return value


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "route", "body", "needed"),
    OBJECT_ROUTES,
    ids=[f"{method} {route}" for method, route, _, _ in OBJECT_ROUTES],
)
def test_another_orgs_object_is_as_missing_as_one_that_never_existed(
    *,
    shop: RunningGatekey,
    own: Tenant,
    other: Tenant,
    caller: str,
    method: str,
    route: str,
    body: dict[str, Any] | None,
    needed: str,
) -> None:
    token = own.tokens[caller]
    theirs = call(shop, token, method, _fill(route, other.ids), _fill(body, other.ids))
    nobodys = call(shop, token, method, _fill(route, made_up_ids()), _fill(body, made_up_ids()))
    expected = 404 if holds(caller, needed) else 403
    assert (theirs, nobodys) == (expected, expected)


def test_the_other_orgs_objects_survived_every_attempt(rival: RunningGatekey, other: Tenant) -> None:
    """Runs after the matrix (same module, file order): nothing of the rival's was changed or deleted."""
    with rival.admin() as admin:
        assert ok(admin.get(f"/v1/keys/{other.ids['colleague_key']}"))["status"] == "active"
        assert ok(admin.get(f"/v1/keys/{other.ids['colleague_key']}"))["label"] == "matrix"
        assert ok(admin.get(f"/v1/users/{other.ids['user']}"))["id"] == other.ids["user"]
        assert ok(admin.get(f"/v1/connections/{other.ids['connection']}"))["id"] == other.ids["connection"]
    with rival.client(rival.partner_token) as partner:
        assert ok(partner.get(f"/v1/orgs/{other.ids['customer_org']}"))["id"] == other.ids["customer_org"]
    with rival.client(other.tokens["admin_personal"]) as still_works:
        assert still_works.get("/products").status_code == 200


@pytest.mark.parametrize("caller", CALLERS[:4])
def test_lists_never_show_another_orgs_objects(shop: RunningGatekey, own: Tenant, other: Tenant, caller: str) -> None:
    with shop.client(own.tokens[caller]) as client:
        keys = ok(client.get("/v1/keys", params={"limit": 200, "user_id": other.ids["user"]}))["data"]
        all_keys = ok(client.get("/v1/keys", params={"limit": 200}))["data"]
        users = ok(client.get("/v1/users", params={"limit": 200}))["data"]
        connections = ok(client.get("/v1/connections", params={"limit": 200}))["data"]
        logs = client.get("/v1/logs", params={"key_id": other.ids["colleague_key"]})
    theirs = set(other.ids.values())
    assert keys == []
    if caller == "member_personal":
        # A member's key_id filter follows the key routes' 404 rules (DESIGN §5): another org's key is no key of theirs.
        assert logs.status_code == 404, logs.text
    else:
        assert ok(logs)["data"] == []
    assert not theirs & {item["id"] for item in [*all_keys, *users, *connections]}
