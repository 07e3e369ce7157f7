"""The console's way in (DESIGN §12), over HTTP through the local gateway: passwords, invitations, sessions in an
HttpOnly cookie checked by the same authorizer as keys, sign-out, slowed failures, and the pages themselves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.server import RunningGatekey, ok, start_gatekey

ADMIN_EMAIL = "admin@demo-store.example"
SESSION_COOKIE = "gatekey_session"
CONSOLE = {"X-Gatekey-Console": "1"}
MEMBER_PASSWORD = "correct horse battery"


def sign_in(gatekey: RunningGatekey, org_id: str, email: str, password: str) -> httpx.Response:
    with gatekey.client() as client:
        return client.post("/v1/sessions", json={"org_id": org_id, "email": email, "password": password})


def session_of(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    cookie = response.headers["set-cookie"]
    found = re.match(rf"{SESSION_COOKIE}=([^;]+);", cookie)
    assert found, cookie
    return found.group(1)


def console(gatekey: RunningGatekey, session: str) -> httpx.Client:
    """What the console's pages send: the cookie the browser keeps, and the console's header."""
    return gatekey.client(**CONSOLE, Cookie=f"{SESSION_COOKIE}={session}")


@pytest.fixture(scope="module")
def org_id(gatekey: RunningGatekey) -> str:
    with gatekey.admin() as admin:
        return str(ok(admin.get("/v1/me"))["org"]["id"])


@pytest.fixture(scope="module")
def admin_session(gatekey: RunningGatekey, org_id: str) -> str:
    return session_of(sign_in(gatekey, org_id, ADMIN_EMAIL, gatekey.admin_password))


def invite(gatekey: RunningGatekey, user_id: str) -> dict[str, Any]:
    with gatekey.admin_person() as admin:
        return ok(admin.post(f"/v1/users/{user_id}/invitation"), 201)


def token_of(invitation: dict[str, Any]) -> str:
    fragment = urlsplit(invitation["invitation_url"]).fragment
    assert fragment.startswith("token="), invitation
    return fragment.removeprefix("token=")


def accept(gatekey: RunningGatekey, token: str, password: str) -> httpx.Response:
    with gatekey.client() as client:
        return client.post("/v1/invitations/accept", json={"token": token, "password": password})


def new_user(gatekey: RunningGatekey, email: str, role: str = "member") -> dict[str, Any]:
    with gatekey.admin() as admin:
        return ok(
            admin.post("/v1/users", json={"email": email, "name": email.split("@", maxsplit=1)[0], "role": role}), 201
        )


@pytest.fixture(scope="module")
def member(gatekey: RunningGatekey) -> dict[str, Any]:
    user = new_user(gatekey, "mia@demo-store.example")
    ok(accept(gatekey, token_of(invite(gatekey, user["id"])), MEMBER_PASSWORD))
    return user


def test_the_bootstrapped_admin_signs_in_with_the_printed_password(
    gatekey: RunningGatekey, org_id: str, admin_session: str
) -> None:
    with console(gatekey, admin_session) as client:
        me = ok(client.get("/v1/me"))
    assert me["key"]["type"] == "session"
    assert me["user"]["email"] == ADMIN_EMAIL
    assert me["org"]["id"] == org_id


def test_the_session_cookie_is_httponly_strict_for_12_hours(gatekey: RunningGatekey, org_id: str) -> None:
    response = sign_in(gatekey, org_id, ADMIN_EMAIL, gatekey.admin_password)
    session_of(response)
    attributes = {part.strip().split("=")[0].lower() for part in response.headers["set-cookie"].split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "SameSite=Strict" in response.headers["set-cookie"]
    assert "Max-Age=43200" in response.headers["set-cookie"]
    assert "secure" not in attributes  # `gatekey serve` is plain http; deployed stages add Secure (test_console_cdk)
    body = response.json()
    assert body["user"]["email"] == ADMIN_EMAIL and "secret" not in response.text


def test_a_wrong_password_an_unknown_email_and_an_unknown_org_are_refused_alike(
    gatekey: RunningGatekey, org_id: str
) -> None:
    wrong_password = sign_in(gatekey, org_id, ADMIN_EMAIL, "not the password at all")
    unknown_email = sign_in(gatekey, org_id, "nobody@demo-store.example", "not the password at all")
    unknown_org = sign_in(gatekey, "org_AAAAAAAAAAAAAAAAAAAAAA", ADMIN_EMAIL, "not the password at all")
    for refused in (wrong_password, unknown_email, unknown_org):
        assert refused.status_code == 401
        assert refused.json() == wrong_password.json()
        assert "set-cookie" not in refused.headers
    assert wrong_password.json()["error"]["code"] == "invalid_credentials"


def test_repeated_failed_sign_ins_are_slowed_with_429_and_retry_after(gatekey: RunningGatekey, org_id: str) -> None:
    user = new_user(gatekey, "tries@demo-store.example")
    ok(accept(gatekey, token_of(invite(gatekey, user["id"])), MEMBER_PASSWORD))
    for _ in range(5):
        assert sign_in(gatekey, org_id, "Tries@demo-store.example", "wrong wrong wrong").status_code == 401
    slowed = sign_in(gatekey, org_id, "tries@demo-store.example", MEMBER_PASSWORD)
    assert slowed.status_code == 429
    assert slowed.json()["error"]["code"] == "too_many_attempts"
    assert 800 < int(slowed.headers["retry-after"]) <= 901
    # An email nobody has is slowed the same way, so the answer tells nothing about who exists.
    for _ in range(5):
        sign_in(gatekey, org_id, "ghost@demo-store.example", "wrong wrong wrong")
    assert sign_in(gatekey, org_id, "ghost@demo-store.example", "wrong wrong wrong").status_code == 429
    # Other people of the org sign in as before.
    session_of(sign_in(gatekey, org_id, ADMIN_EMAIL, gatekey.admin_password))


def test_sign_out_ends_the_session_at_once(gatekey: RunningGatekey, org_id: str) -> None:
    session = session_of(sign_in(gatekey, org_id, ADMIN_EMAIL, gatekey.admin_password))
    with console(gatekey, session) as client:
        assert client.get("/v1/keys").status_code == 200
        signed_out = client.delete("/v1/sessions/current")
        assert signed_out.status_code == 204
        assert re.match(rf"{SESSION_COOKIE}=;.*Max-Age=0", signed_out.headers["set-cookie"])
        assert client.get("/v1/keys").status_code == 401
        assert client.delete("/v1/sessions/current").status_code == 401


def test_the_cookie_counts_only_with_the_console_header(gatekey: RunningGatekey, admin_session: str) -> None:
    """A form or link of another site can send neither the header nor, with SameSite=Strict, the cookie: the
    cookie alone changes nothing."""
    with gatekey.client(Cookie=f"{SESSION_COOKIE}={admin_session}") as client:
        assert client.post("/v1/keys", json={"label": "from elsewhere"}).status_code == 401
        assert client.get("/v1/keys").status_code == 401
    with gatekey.admin() as admin:
        labels = [key["label"] for key in ok(admin.get("/v1/keys", params={"limit": 100}))["data"]]
    assert "from elsewhere" not in labels


def test_a_session_is_no_bearer_token_and_a_key_is_no_session(gatekey: RunningGatekey, admin_session: str) -> None:
    with gatekey.client(admin_session) as bearer:
        assert bearer.get("/v1/me").status_code == 401
    with console(gatekey, gatekey.admin_token) as cookie:
        assert cookie.get("/v1/me").status_code == 401
    with gatekey.client(**CONSOLE, Cookie=f"{SESSION_COOKIE}={admin_session}; {SESSION_COOKIE}=x") as twice:
        assert twice.get("/v1/me").status_code == 401


def test_an_api_key_cannot_sign_out(gatekey: RunningGatekey) -> None:
    with gatekey.admin() as admin:
        refused = admin.delete("/v1/sessions/current")
    assert refused.status_code == 404
    assert "API key" in refused.json()["error"]["message"]


def test_a_session_manages_gatekey_but_never_calls_the_protected_api(
    gatekey: RunningGatekey, admin_session: str
) -> None:
    """It holds the provider's permissions only so as to grant them to keys."""
    with console(gatekey, admin_session) as client:
        assert client.get("/products").status_code == 403
        created = ok(
            client.post("/v1/keys", json={"label": "made in the console", "permissions": {"products": "read"}}), 201
        )
    with gatekey.client(created["secret"]) as key:
        assert key.get("/products").status_code == 200


def test_sessions_are_nobodys_api_keys(gatekey: RunningGatekey, admin_session: str) -> None:
    with console(gatekey, admin_session) as client:
        session_key_id = ok(client.get("/v1/me"))["key"]["id"]
    with gatekey.admin() as admin:
        listed = ok(admin.get("/v1/keys", params={"limit": 100}))["data"]
        assert all(key["type"] != "session" for key in listed)
        assert admin.get(f"/v1/keys/{session_key_id}").status_code == 404
        assert admin.delete(f"/v1/keys/{session_key_id}").status_code == 404


def test_an_invited_member_sets_a_password_once_and_signs_in(
    gatekey: RunningGatekey, org_id: str, member: dict[str, Any]
) -> None:
    session = session_of(sign_in(gatekey, org_id, member["email"], MEMBER_PASSWORD))
    with console(gatekey, session) as client:
        me = ok(client.get("/v1/me"))
    assert me["user"]["id"] == member["id"] and me["user"]["role"] == "member"


def test_an_invitation_link_works_once_within_seven_days_and_a_new_one_replaces_it(
    gatekey: RunningGatekey, org_id: str
) -> None:
    user = new_user(gatekey, "leo@demo-store.example")
    first = invite(gatekey, user["id"])
    second = invite(gatekey, user["id"])
    assert first["invitation_url"].startswith(f"{gatekey.url}/dashboard/invitation.html#token=")
    valid_for = datetime.fromisoformat(second["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=7) - timedelta(minutes=1) < valid_for <= timedelta(days=7)
    too_short = accept(gatekey, token_of(second), "short")
    assert too_short.status_code == 400 and "password" in too_short.json()["error"]["message"]
    replaced = accept(gatekey, token_of(first), "a long enough password")
    assert replaced.status_code == 401 and replaced.json()["error"]["code"] == "invitation_invalid"
    assert ok(accept(gatekey, token_of(second), "a long enough password")) == {"org_id": org_id, "email": user["email"]}
    reused = accept(gatekey, token_of(second), "another long password")
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "invitation_invalid"
    session_of(sign_in(gatekey, org_id, user["email"], "a long enough password"))
    assert sign_in(gatekey, org_id, user["email"], "another long password").status_code == 401
    forged = accept(gatekey, token_of(second)[:-4] + "AAAA", "a long enough password")
    assert forged.status_code == 401


def test_the_invitation_event_carries_the_link_only_as_a_secret(gatekey: RunningGatekey) -> None:
    user = new_user(gatekey, "ada@demo-store.example")
    invitation = invite(gatekey, user["id"])
    with gatekey.admin() as admin:
        events = ok(admin.get("/v1/events", params={"type": "user.invited", "limit": 100}))["data"]
    announced = [event for event in events if event["data"]["id"] == user["id"]]
    assert len(announced) == 1
    assert token_of(invitation) not in str(announced[0])


def test_only_admins_invite(gatekey: RunningGatekey, org_id: str, member: dict[str, Any]) -> None:
    session = session_of(sign_in(gatekey, org_id, member["email"], MEMBER_PASSWORD))
    with console(gatekey, session) as client:
        assert client.post(f"/v1/users/{member['id']}/invitation").status_code == 403
    personal = ok(
        gatekey.admin().post(
            "/v1/keys", json={"label": "mia's own", "type": "personal", "user_id": member["id"], "permissions": {}}
        ),
        201,
    )
    with gatekey.client(personal["secret"]) as members_key:
        refused = members_key.post(f"/v1/users/{member['id']}/invitation")
    assert refused.status_code == 403


def test_a_member_session_sees_and_manages_only_their_own_keys(
    gatekey: RunningGatekey, org_id: str, member: dict[str, Any]
) -> None:
    gatekey.create_key(label="the org's main key")
    session = session_of(sign_in(gatekey, org_id, member["email"], MEMBER_PASSWORD))
    with console(gatekey, session) as client:
        own = ok(
            client.post(
                "/v1/keys", json={"label": "mia console key", "type": "personal", "permissions": {"orders": "read"}}
            ),
            201,
        )
        listed = ok(client.get("/v1/keys", params={"limit": 100}))["data"]
        assert {key["user_id"] for key in listed} == {member["id"]}
        assert own["id"] in {key["id"] for key in listed}
        assert client.post("/v1/keys", json={"label": "main", "type": "main"}).status_code == 403
        assert client.delete(f"/v1/keys/{own['id']}").status_code == 200


def test_deleting_a_user_ends_their_sessions(gatekey: RunningGatekey, org_id: str) -> None:
    user = new_user(gatekey, "gone@demo-store.example")
    ok(accept(gatekey, token_of(invite(gatekey, user["id"])), MEMBER_PASSWORD))
    session = session_of(sign_in(gatekey, org_id, user["email"], MEMBER_PASSWORD))
    with gatekey.admin() as admin:
        assert ok(admin.delete(f"/v1/users/{user['id']}"))["id"] == user["id"]
    with console(gatekey, session) as client:
        assert client.get("/v1/me").status_code == 401


def test_sign_in_ignores_idempotency_keys(gatekey: RunningGatekey, org_id: str) -> None:
    """A remembered reply would hand the same cookie to whoever repeats the request, even after sign-out."""
    body = {"org_id": org_id, "email": ADMIN_EMAIL, "password": gatekey.admin_password}
    with gatekey.client(**{"Idempotency-Key": "same-every-time"}) as client:
        first, second = (session_of(client.post("/v1/sessions", json=body)) for _ in range(2))
    assert first != second


def test_the_pages_are_served_on_the_apis_origin_with_a_strict_policy(gatekey: RunningGatekey) -> None:
    with gatekey.client() as client:
        entry = client.get("/dashboard")
        assert entry.status_code == 302 and entry.headers["location"] == "dashboard/"
        page = client.get("/dashboard/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<h1>API keys</h1>" in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        script = client.get("/dashboard/api.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert client.head("/dashboard/signin.html").status_code == 200
        for name in (
            "..%2Fsettings.py",
            "%2e%2e%2fcli.py",
            ".hidden.html",
            "nothing.html",
            "api.py",
            "signin.html.bak",
        ):
            assert client.get(f"/dashboard/{name}").status_code == 404, name
        assert client.get("/dashboard/a/b.js").status_code == 404


@pytest.fixture(scope="module")
def cached_gatekey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    with start_gatekey(tmp_path_factory.mktemp("cached"), "--authorizer-cache-ttl", "300") as running:
        yield running


def test_with_authorizer_caching_each_session_is_answered_as_itself(cached_gatekey: RunningGatekey) -> None:
    """Gatekey's own API authorizes every request afresh: two people behind one address never share an answer,
    and sign-out still bites at once."""
    with cached_gatekey.admin() as admin:
        org = ok(admin.get("/v1/me"))["org"]["id"]
    user = new_user(cached_gatekey, "kim@demo-store.example")
    ok(accept(cached_gatekey, token_of(invite(cached_gatekey, user["id"])), MEMBER_PASSWORD))
    admins = session_of(sign_in(cached_gatekey, org, ADMIN_EMAIL, cached_gatekey.admin_password))
    members = session_of(sign_in(cached_gatekey, org, user["email"], MEMBER_PASSWORD))
    for _ in range(2):
        with console(cached_gatekey, admins) as client:
            assert ok(client.get("/v1/me"))["user"]["email"] == ADMIN_EMAIL
        with console(cached_gatekey, members) as client:
            assert ok(client.get("/v1/me"))["user"]["email"] == user["email"]
    with console(cached_gatekey, members) as client:
        assert client.delete("/v1/sessions/current").status_code == 204
        assert client.get("/v1/me").status_code == 401
