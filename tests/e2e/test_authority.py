"""Authority never grows (DESIGN §5, §12), over HTTP through `gatekey serve`: the escalation paths between features
that issue 21 found, each refused with 403 `insufficient_authority`, and what an admin does still working."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest

from tests.e2e.server import RunningGatekey, ok
from tests.webhook_receiver import Receiver

PASSWORD = "the first long password"


def user(gatekey: RunningGatekey, role: str, email: str) -> dict[str, Any]:
    with gatekey.admin() as admin:
        return ok(
            admin.post("/v1/users", json={"email": email, "name": email.split("@", maxsplit=1)[0], "role": role}), 201
        )


def key(gatekey: RunningGatekey, **body: Any) -> dict[str, Any]:
    return gatekey.create_key(label="authority", **body)


def refused(response: httpx.Response, *lacking: str) -> str:
    """The refusal's message, after checking it is 403 insufficient_authority naming each of `lacking`."""
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "insufficient_authority", error
    for missing in lacking:
        assert missing in error["message"], error
    return str(error["message"])


def token_of(invitation: dict[str, Any]) -> str:
    return urlsplit(invitation["invitation_url"]).fragment.removeprefix("token=")


def sign_in(gatekey: RunningGatekey, org_id: str, email: str, password: str) -> int:
    with gatekey.client() as client:
        body = {"org_id": org_id, "email": email, "password": password}
        return client.post("/v1/sessions", json=body).status_code


@pytest.fixture(scope="module")
def org_id(shop: RunningGatekey) -> str:
    with shop.admin() as admin:
        return str(ok(admin.get("/v1/me"))["org"]["id"])


# Item 1: rotate and reveal hand out a token, so they need cover, not only sight of the key.


def test_a_key_manager_cannot_reveal_a_broader_recoverable_key(shop: RunningGatekey) -> None:
    broader = key(shop, permissions={"products": "write"}, recoverable=True)
    manager = key(shop, permissions={"keys": "write"})
    with shop.client(manager["secret"]) as client:
        refused(client.post(f"/v1/keys/{broader['id']}/reveal"), "products:write")
    with shop.admin() as admin:  # an admin holding everything still reveals it
        assert ok(admin.post(f"/v1/keys/{broader['id']}/reveal"))["secret"] == broader["secret"]


def test_a_key_manager_cannot_rotate_the_admin_main_key_but_rotates_itself(shop: RunningGatekey) -> None:
    manager = key(shop, permissions={"keys": "write"})
    with shop.admin() as admin:
        admin_key_id = ok(admin.get("/v1/me"))["key"]["id"]
    with shop.client(manager["secret"]) as client:
        refused(client.post(f"/v1/keys/{admin_key_id}/rotate", json={}), "products:write", "users:write")
        rotated = ok(client.post(f"/v1/keys/{manager['id']}/rotate", json={}))  # a key may always rotate itself
    assert rotated["id"] == manager["id"]
    with shop.client(rotated["secret"]) as client:
        assert client.get("/v1/me").status_code == 200
    with shop.admin() as admin:
        assert admin.get("/v1/me").status_code == 200, "the admin main key was not rotated"


def test_an_admins_narrow_personal_key_cannot_rotate_or_reveal_the_partner_key(shop: RunningGatekey) -> None:
    admin_user = user(shop, "admin", "ada-authority@example.com")
    narrow = key(shop, type="personal", user_id=admin_user["id"], permissions={"keys": "write", "logs": "read"})
    with shop.client(shop.partner_token) as partner:
        partner_key_id = ok(partner.get("/v1/me"))["key"]["id"]
    with shop.client(narrow["secret"]) as client:
        refused(client.post(f"/v1/keys/{partner_key_id}/rotate", json={}), "partner standing", "orgs:write")
        refused(client.post(f"/v1/keys/{partner_key_id}/reveal"), "partner standing")
    with shop.client(shop.partner_token) as partner:
        assert partner.get("/v1/orgs").status_code == 200, "the partner key still works"


def test_a_members_key_manager_cannot_rotate_the_members_broader_key(shop: RunningGatekey) -> None:
    member = user(shop, "member", "mo-authority@example.com")
    manager = key(shop, type="personal", user_id=member["id"], permissions={"keys": "write"})
    broader = key(shop, type="personal", user_id=member["id"], permissions={"keys": "write", "orders": "write"})
    with shop.client(manager["secret"]) as client:
        refused(client.post(f"/v1/keys/{broader['id']}/rotate", json={}), "orders:write")
        # nor free it from its expiry or widen it, though renaming it is only a name
        refused(client.patch(f"/v1/keys/{broader['id']}", json={"ip_allowlist": ["203.0.113.0/24"]}), "orders:write")
        assert client.patch(f"/v1/keys/{broader['id']}", json={"label": "renamed"}).status_code == 200
    with shop.client(broader["secret"]) as client:
        assert client.get("/orders").status_code == 200, "the broader key was not rotated"


def test_nobody_raises_a_key_above_their_own_authority(shop: RunningGatekey) -> None:
    manager = key(shop, permissions={"keys": "write", "products": "read"})
    narrow = key(shop, permissions={"products": "read"})
    with shop.client(manager["secret"]) as client:
        refused(client.patch(f"/v1/keys/{narrow['id']}", json={"permissions": {"products": "write"}}), "products:write")
        refused(client.post("/v1/keys", json={"label": "x", "permissions": {"orders": "read"}}), "orders:read")


def test_a_partner_mints_within_its_customer_orgs_only(shop: RunningGatekey, rival: RunningGatekey) -> None:
    with shop.client(shop.partner_token) as partner:
        org = ok(partner.post("/v1/orgs", json={"name": "Authority customer"}), 201)
        person = ok(partner.post(f"/v1/orgs/{org['id']}/users", json={"email": "c@example.com", "name": "C"}), 201)
        minted = ok(
            partner.post(
                f"/v1/orgs/{org['id']}/users/{person['id']}/keys",
                json={"label": "theirs", "permissions": {"keys": "write", "products": "write"}},
            ),
            201,
        )
        assert minted["org_id"] == org["id"]
    with rival.client(rival.partner_token) as other_partner:
        elsewhere = other_partner.post(
            f"/v1/orgs/{org['id']}/users/{person['id']}/keys", json={"label": "stolen", "permissions": {}}
        )
    assert elsewhere.status_code == 404


# Item 2: only an admin in person invites, and only people their authority covers.


def test_a_main_key_never_invites_not_even_the_bootstrapped_admin_key(shop: RunningGatekey) -> None:
    second_admin = user(shop, "admin", "second-admin@example.com")
    manager = key(shop, permissions={"keys": "write", "users": "write"})
    for token in (manager["secret"], shop.admin_token):
        with shop.client(token) as client:
            refused(client.post(f"/v1/users/{second_admin['id']}/invitation"), "a main key never invites")


def test_a_narrow_admin_personal_key_cannot_invite_an_admin(shop: RunningGatekey) -> None:
    admin_user = user(shop, "admin", "narrow-admin@example.com")
    other_admin = user(shop, "admin", "other-admin@example.com")
    narrow = key(shop, type="personal", user_id=admin_user["id"], permissions={"keys": "write", "users": "write"})
    with shop.client(narrow["secret"]) as client:
        refused(client.post(f"/v1/users/{other_admin['id']}/invitation"), "products:write")


def test_reinviting_keeps_the_password_until_the_new_link_is_used(shop: RunningGatekey, org_id: str) -> None:
    person = user(shop, "member", "kept-password@example.com")
    with shop.admin_person() as admin:
        first = ok(admin.post(f"/v1/users/{person['id']}/invitation"), 201)
        with shop.client() as anyone:
            ok(anyone.post("/v1/invitations/accept", json={"token": token_of(first), "password": PASSWORD}))
        second = ok(admin.post(f"/v1/users/{person['id']}/invitation"), 201)
    assert sign_in(shop, org_id, person["email"], PASSWORD) == 201, "re-inviting left the password alone"
    with shop.client() as anyone:
        new_password = "the second long password"
        ok(anyone.post("/v1/invitations/accept", json={"token": token_of(second), "password": new_password}))
    assert sign_in(shop, org_id, person["email"], PASSWORD) == 401
    assert sign_in(shop, org_id, person["email"], new_password) == 201


# Item 3: the link reaches the inviting admin and the deployment's own bus, never a webhook or the events answer.


@pytest.fixture
def subscribed(shop: RunningGatekey, receiver: Receiver) -> Iterator[Receiver]:
    hooks_only = key(shop, permissions={"webhooks": "write"})
    with shop.client(hooks_only["secret"]) as client:
        webhook = ok(client.post("/v1/webhooks", json={"url": receiver.url, "events": ["user.invited"]}), 201)
        yield receiver
        client.delete(f"/v1/webhooks/{webhook['id']}")


def test_a_webhook_gets_user_invited_without_the_link(shop: RunningGatekey, subscribed: Receiver) -> None:
    person = user(shop, "admin", "invited-admin@example.com")
    with shop.admin_person() as admin:
        invitation = ok(admin.post(f"/v1/users/{person['id']}/invitation"), 201)
        events = ok(admin.get("/v1/events", params={"type": "user.invited", "limit": 200}))["data"]
    subscribed.wait_for(1)
    (delivered,) = [event for event in subscribed.events() if event["data"]["id"] == person["id"]]
    assert delivered["type"] == "user.invited"
    assert delivered["data"]["invitation_expires_at"].endswith("Z")
    everything = json.dumps(subscribed.events()) + json.dumps(events)
    assert token_of(invitation) not in everything
    assert "invitation_url" not in everything


# Item 4: an invitation sent with Idempotency-Key rests nowhere in plaintext.


def test_an_idempotent_invitation_is_replayed_but_stored_sealed(shop: RunningGatekey, storage_endpoint: str) -> None:
    person = user(shop, "member", "idempotent-invite@example.com")
    with shop.admin_person() as admin:
        headers = {"Idempotency-Key": f"invite-{person['id']}"}
        first = ok(admin.post(f"/v1/users/{person['id']}/invitation", headers=headers), 201)
        again = ok(admin.post(f"/v1/users/{person['id']}/invitation", headers=headers), 201)
    assert again == first
    secret_part = token_of(first).rsplit(".", 1)[1]
    dynamodb = boto3.client("dynamodb", endpoint_url=storage_endpoint)  # region and credentials: the test process's
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            assert secret_part not in json.dumps(page["Items"]), f"the link rests in plaintext in {table}"


# Revoking needs standing, not cover: an admin revokes even the partner key (last: the partner key stays revoked).


def test_an_admin_revokes_the_partner_key_without_holding_orgs(shop: RunningGatekey) -> None:
    admin_user = user(shop, "admin", "revoking-admin@example.com")
    narrow = key(shop, type="personal", user_id=admin_user["id"], permissions={"keys": "write"})
    with shop.client(shop.partner_token) as partner:
        partner_key_id = ok(partner.get("/v1/me"))["key"]["id"]
    with shop.client(narrow["secret"]) as client:
        assert ok(client.delete(f"/v1/keys/{partner_key_id}"))["status"] == "revoked"
    with shop.client(shop.partner_token) as partner:
        assert partner.get("/v1/orgs").status_code == 401
