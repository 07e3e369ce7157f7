"""Users, roles and personal keys over HTTP (DESIGN §6, Partoo): admins manage every key, members only their own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.server import RunningGatekey, ok

EVERYTHING_A_MEMBER_NEEDS = {"keys": "write", "users": "write", "products": "read", "logs": "read"}


def add_user(gatekey: RunningGatekey, email: str, role: str = "member") -> dict[str, Any]:
    with gatekey.admin() as admin:
        return ok(admin.post("/v1/users", json={"email": email, "name": email.partition("@")[0], "role": role}), 201)


def personal_key(gatekey: RunningGatekey, user: dict[str, Any], **body: Any) -> dict[str, Any]:
    body.setdefault("permissions", EVERYTHING_A_MEMBER_NEEDS)
    return gatekey.create_key(label=f"{user['name']}'s key", type="personal", user_id=user["id"], **body)


@pytest.fixture(scope="module")
def member(gatekey: RunningGatekey) -> dict[str, Any]:
    user = add_user(gatekey, "mia@demo-store.example")
    return {"user": user, "key": personal_key(gatekey, user)}


@pytest.fixture(scope="module")
def colleague(gatekey: RunningGatekey) -> dict[str, Any]:
    user = add_user(gatekey, "carl@demo-store.example")
    return {"user": user, "key": personal_key(gatekey, user)}


@pytest.fixture(scope="module")
def admin_user(gatekey: RunningGatekey) -> dict[str, Any]:
    user = add_user(gatekey, "ada@demo-store.example", role="admin")
    everything = {"keys": "write", "users": "write", "products": "write", "logs": "read", "connections": "write"}
    return {"user": user, "key": personal_key(gatekey, user, permissions=everything)}


@pytest.fixture(scope="module")
def main_key(gatekey: RunningGatekey) -> dict[str, Any]:
    return gatekey.create_key(label="integration", permissions={"products": "read"})


def test_a_personal_key_belongs_to_its_user_and_says_so(gatekey: RunningGatekey, member: dict[str, Any]) -> None:
    key, user = member["key"], member["user"]
    assert (key["type"], key["user_id"], key["org_id"]) == ("personal", user["id"], user["org_id"])
    assert user["role"] == "member" and user["id"].startswith("usr_")
    with gatekey.client(key["secret"]) as client:
        me = ok(client.get("/v1/me"))
        assert client.get("/products").status_code == 200
    assert me["user"] == user
    assert me["key"]["id"] == key["id"]


def test_every_key_shows_label_creator_creation_last_use_and_expiry(
    gatekey: RunningGatekey, member: dict[str, Any]
) -> None:
    with gatekey.client(member["key"]["secret"]) as client:
        made = ok(
            client.post(
                "/v1/keys", json={"label": "mine, expiring", "type": "personal", "expires_at": "2099-01-01T00:00:00Z"}
            ),
            201,
        )
        listed = ok(client.get("/v1/keys"))["data"]
    shown = next(key for key in listed if key["id"] == made["id"])
    assert shown["label"] == "mine, expiring"
    assert shown["created_by"] == member["user"]["id"]  # a personal key creates in its user's name
    assert shown["created_at"].endswith("Z") and shown["expires_at"] == "2099-01-01T00:00:00.000Z"
    assert "last_used_at" in shown
    assert shown["user_id"] == member["user"]["id"]  # "type": "personal" without user_id: the caller's own user


def test_a_member_sees_only_their_own_keys(
    gatekey: RunningGatekey, member: dict[str, Any], colleague: dict[str, Any], main_key: dict[str, Any]
) -> None:
    with gatekey.client(member["key"]["secret"]) as client:
        listed = ok(client.get("/v1/keys", params={"limit": 200}))["data"]
        assert {key["user_id"] for key in listed} == {member["user"]["id"]}
        assert ok(client.get("/v1/keys", params={"type": "main"}))["data"] == []
        assert ok(client.get("/v1/keys", params={"user_id": colleague["user"]["id"]}))["data"] == []
        for someone_elses in (main_key["id"], colleague["key"]["id"]):
            assert client.get(f"/v1/keys/{someone_elses}").status_code == 404
            assert client.patch(f"/v1/keys/{someone_elses}", json={"label": "mine now"}).status_code == 404
            assert client.post(f"/v1/keys/{someone_elses}/rotate").status_code == 404
            assert client.post(f"/v1/keys/{someone_elses}/reveal").status_code == 404
            assert client.delete(f"/v1/keys/{someone_elses}").status_code == 404
    with gatekey.client(colleague["key"]["secret"]) as still_works:
        assert still_works.get("/products").status_code == 200
    with gatekey.client(main_key["secret"]) as still_works:
        assert still_works.get("/products").status_code == 200


def test_a_member_cannot_create_main_keys_or_keys_for_others(
    gatekey: RunningGatekey, member: dict[str, Any], colleague: dict[str, Any]
) -> None:
    with gatekey.client(member["key"]["secret"]) as client:
        main = client.post("/v1/keys", json={"label": "org key"})
        for_colleague = client.post(
            "/v1/keys", json={"label": "for carl", "type": "personal", "user_id": colleague["user"]["id"]}
        )
        for_self = client.post(
            "/v1/keys", json={"label": "for me", "type": "personal", "user_id": member["user"]["id"]}
        )
    assert (main.status_code, main.json()["error"]["code"]) == (403, "admin_required")
    assert (for_colleague.status_code, for_colleague.json()["error"]["code"]) == (403, "admin_required")
    assert for_self.status_code == 201


def test_a_member_manages_their_own_keys(gatekey: RunningGatekey, member: dict[str, Any]) -> None:
    with gatekey.client(member["key"]["secret"]) as client:
        spare = ok(client.post("/v1/keys", json={"label": "spare", "type": "personal", "recoverable": True}), 201)
        assert ok(client.patch(f"/v1/keys/{spare['id']}", json={"label": "renamed"}))["label"] == "renamed"
        rotated = ok(client.post(f"/v1/keys/{spare['id']}/rotate"))
        assert ok(client.post(f"/v1/keys/{spare['id']}/reveal"))["secret"] == rotated["secret"]
        assert ok(client.delete(f"/v1/keys/{spare['id']}"))["status"] == "revoked"


def test_an_admins_personal_key_manages_main_keys(
    gatekey: RunningGatekey, admin_user: dict[str, Any], member: dict[str, Any], main_key: dict[str, Any]
) -> None:
    with gatekey.client(admin_user["key"]["secret"]) as client:
        made = ok(client.post("/v1/keys", json={"label": "made by ada", "permissions": {"products": "read"}}), 201)
        assert (made["type"], made["created_by"]) == ("main", admin_user["user"]["id"])
        listed = {key["id"] for key in ok(client.get("/v1/keys", params={"limit": 200}))["data"]}
        assert {main_key["id"], member["key"]["id"], made["id"]} <= listed
        assert ok(client.get(f"/v1/keys/{main_key['id']}"))["id"] == main_key["id"]
        for_member = ok(
            client.post("/v1/keys", json={"label": "for mia", "type": "personal", "user_id": member["user"]["id"]}), 201
        )
        assert for_member["user_id"] == member["user"]["id"]
        assert ok(client.delete(f"/v1/keys/{made['id']}"))["status"] == "revoked"


def test_a_main_key_without_keys_write_sees_personal_keys_but_no_main_key(
    gatekey: RunningGatekey, member: dict[str, Any], main_key: dict[str, Any]
) -> None:
    reader = gatekey.create_key(label="auditor", permissions={"keys": "read"})
    with gatekey.client(reader["secret"]) as client:
        listed = ok(client.get("/v1/keys", params={"limit": 200}))["data"]
        assert listed and {key["type"] for key in listed} == {"personal"}
        assert client.get(f"/v1/keys/{member['key']['id']}").status_code == 200
        assert client.get(f"/v1/keys/{main_key['id']}").status_code == 404
        assert ok(client.get("/v1/me"))["key"]["id"] == reader["id"]  # it still knows itself


def test_a_main_key_must_name_the_user_of_a_personal_key(gatekey: RunningGatekey) -> None:
    with gatekey.admin() as admin:
        nameless = admin.post("/v1/keys", json={"label": "whose?", "type": "personal"})
        unknown = admin.post("/v1/keys", json={"label": "nobody's", "type": "personal", "user_id": "usr_nobody"})
        main_with_user = admin.post("/v1/keys", json={"label": "confused", "type": "main", "user_id": "usr_x"})
    assert nameless.status_code == 400 and "user_id" in nameless.json()["error"]["message"]
    assert unknown.status_code == 404
    assert main_with_user.status_code == 400 and "user_id" in main_with_user.json()["error"]["message"]


def test_deleting_a_user_revokes_and_deletes_their_personal_keys(gatekey: RunningGatekey) -> None:
    leaver = add_user(gatekey, "lee@demo-store.example")
    first, second = personal_key(gatekey, leaver), personal_key(gatekey, leaver)
    with gatekey.client(first["secret"]) as client:
        assert client.get("/products").status_code == 200
    with gatekey.admin() as admin:
        deleted = ok(admin.delete(f"/v1/users/{leaver['id']}"))
        assert deleted["id"] == leaver["id"]
        assert admin.get(f"/v1/users/{leaver['id']}").status_code == 404
        assert admin.delete(f"/v1/users/{leaver['id']}").status_code == 404
        assert leaver["id"] not in {user["id"] for user in ok(admin.get("/v1/users"))["data"]}
        for key in (first, second):
            assert admin.get(f"/v1/keys/{key['id']}").status_code == 404  # deleted, not just revoked
        listed = ok(admin.get("/v1/keys", params={"user_id": leaver["id"], "limit": 200}))["data"]
        assert listed == []
        # Their email is free again.
        assert admin.post("/v1/users", json={"email": "lee@demo-store.example", "name": "Lee"}).status_code == 201
    for key in (first, second):
        with gatekey.client(key["secret"]) as client:
            assert client.get("/products").status_code == 401
            assert client.get("/v1/me").status_code == 401


def test_deleting_a_user_frees_their_keys_places_under_the_limit(gatekey: RunningGatekey) -> None:
    with gatekey.admin() as admin:
        before = len(ok(admin.get("/v1/keys", params={"status": "active", "limit": 200}))["data"])
        temp = add_user(gatekey, "temp@demo-store.example")
        personal_key(gatekey, temp)
        ok(admin.delete(f"/v1/users/{temp['id']}"))
        after = len(ok(admin.get("/v1/keys", params={"status": "active", "limit": 200}))["data"])
    assert after == before


def test_emails_are_unique_within_an_org_whatever_their_case(gatekey: RunningGatekey) -> None:
    add_user(gatekey, "dup@demo-store.example")
    with gatekey.admin() as admin:
        again = admin.post("/v1/users", json={"email": "DUP@demo-store.example", "name": "Dup"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "email_taken")


def test_members_cannot_add_or_delete_users(
    gatekey: RunningGatekey, member: dict[str, Any], colleague: dict[str, Any]
) -> None:
    with gatekey.client(member["key"]["secret"]) as client:
        added = client.post("/v1/users", json={"email": "x@demo-store.example", "name": "X", "role": "admin"})
        deleted = client.delete(f"/v1/users/{colleague['user']['id']}")
        assert ok(client.get(f"/v1/users/{colleague['user']['id']}"))["email"] == colleague["user"]["email"]
    assert (added.status_code, added.json()["error"]["code"]) == (403, "admin_required")
    assert (deleted.status_code, deleted.json()["error"]["code"]) == (403, "admin_required")


def test_users_list_in_pages(gatekey: RunningGatekey) -> None:
    for n in range(3):
        add_user(gatekey, f"pager{n}@demo-store.example")
    seen: list[str] = []
    cursor = None
    with gatekey.admin() as admin:
        while True:
            page = ok(admin.get("/v1/users", params={"limit": 2, **({"cursor": cursor} if cursor else {})}))
            assert len(page["data"]) <= 2
            seen += [user["id"] for user in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == len(set(seen)) >= 3


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"name": "No Email"}, "email"),
        ({"email": "not-an-email", "name": "Bad"}, "email"),
        ({"email": "r@demo-store.example", "name": "R", "role": "owner"}, "role"),
        ({"email": "e@demo-store.example", "name": ""}, "name"),
        ({"email": "u@demo-store.example", "name": "U", "admin": True}, "admin"),
    ],
)
def test_a_bad_user_body_is_400_naming_the_field(gatekey: RunningGatekey, body: dict[str, Any], named: str) -> None:
    with gatekey.admin() as admin:
        response = admin.post("/v1/users", json=body)
    assert response.status_code == 400
    assert named in response.json()["error"]["message"]
