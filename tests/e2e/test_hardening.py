"""Issue 21's hardening through `gatekey serve` over HTTP: members read only their own keys' logs and events, cursors
are MACed under a stage secret, the webhook limit holds under parallel creates, and webhook URLs with control
characters or IPv4-translated private addresses are refused."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.server import RunningGatekey, ok

MEMBER_PERMISSIONS = {"keys": "write", "logs": "read", "events": "read", "products": "read"}
WEBHOOK_LIMIT = 10
HOOK_URL = "http://127.0.0.1:9/hook"  # loopback: the local stage accepts it; `plan.changed` never fires here
QUIET_EVENTS = ["plan.changed"]


def add_member(gatekey: RunningGatekey, email: str) -> dict[str, Any]:
    with gatekey.admin() as admin:
        user = ok(admin.post("/v1/users", json={"email": email, "name": email.partition("@")[0]}), 201)
    key = gatekey.create_key(label=f"{user['name']}'s key", type="personal", user_id=user["id"], **_member_rights())
    return {"user": user, "key": key}


def _member_rights() -> dict[str, Any]:
    return {"permissions": MEMBER_PERMISSIONS}


def get(gatekey: RunningGatekey, token: str, path: str, **params: Any) -> httpx.Response:
    with gatekey.client(token) as client:
        return client.get(path, params=params)


def every_page(gatekey: RunningGatekey, token: str, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        page = ok(get(gatekey, token, path, **params, **({"cursor": cursor} if cursor else {})))
        pages.append(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def product_requests(entries: list[dict[str, Any]]) -> list[str]:
    """The keys that made the team's `GET /products`, newest first (the API calls of the test are logged too)."""
    return [entry["key_id"] for entry in entries if entry["path"] == "/products"]


@pytest.fixture(scope="module")
def team(gatekey: RunningGatekey) -> dict[str, Any]:
    """Two members and an integration key, each having made requests, the member's own scattered among others'."""
    mia, carl = add_member(gatekey, "mia@demo-store.example"), add_member(gatekey, "carl@demo-store.example")
    main = gatekey.create_key(label="integration", permissions={"products": "read"})
    spare = gatekey.create_key(label="mia's spare", type="personal", user_id=mia["user"]["id"], **_member_rights())
    order = [carl["key"], main, mia["key"], main, carl["key"], spare, main, mia["key"], carl["key"], main]
    for key in order:
        assert get(gatekey, key["secret"], "/products").status_code == 200
    deadline = time.monotonic() + 15
    while len(product_requests(ok(get(gatekey, gatekey.admin_token, "/v1/logs", limit=200))["data"])) < len(order):
        assert time.monotonic() < deadline, "the requests never reached the log"
        time.sleep(0.2)
    return {"mia": mia, "carl": carl, "main": main, "spare": spare, "order": order}


def test_a_member_lists_only_their_own_keys_requests(gatekey: RunningGatekey, team: dict[str, Any]) -> None:
    mine = {team["mia"]["key"]["id"], team["spare"]["id"]}
    pages = every_page(gatekey, team["mia"]["key"]["secret"], "/v1/logs", limit=1)
    entries = [entry for page in pages for entry in page]
    assert {entry["key_id"] for entry in entries} == mine
    own_products = [key["id"] for key in reversed(team["order"]) if key["id"] in mine]
    assert product_requests(entries) == own_products  # newest first, none missing, none repeated
    assert all(len(page) == 1 for page in pages)  # no empty page behind a cursor
    assert len({entry["request_id"] for entry in entries}) == len(entries)


def test_an_admin_still_lists_every_keys_requests(gatekey: RunningGatekey, team: dict[str, Any]) -> None:
    logged = {entry["key_id"] for entry in ok(get(gatekey, gatekey.admin_token, "/v1/logs", limit=200))["data"]}
    assert {key["id"] for key in team["order"]} <= logged


@pytest.mark.parametrize("whose", ["carl", "main"])
def test_a_member_naming_a_key_they_may_not_see_gets_404_as_on_the_key_route(
    gatekey: RunningGatekey, team: dict[str, Any], whose: str
) -> None:
    other = team[whose]["key"] if whose == "carl" else team[whose]
    token = team["mia"]["key"]["secret"]
    from_logs = get(gatekey, token, "/v1/logs", key_id=other["id"])
    from_keys = get(gatekey, token, f"/v1/keys/{other['id']}")
    assert from_logs.status_code == from_keys.status_code == 404, from_logs.text
    assert from_logs.json() == from_keys.json()
    assert ok(get(gatekey, gatekey.admin_token, "/v1/logs", key_id=other["id"]))["data"]  # the admin may


def test_a_member_reads_their_own_keys_requests_by_key_id(gatekey: RunningGatekey, team: dict[str, Any]) -> None:
    entries = ok(get(gatekey, team["mia"]["key"]["secret"], "/v1/logs", key_id=team["spare"]["id"]))["data"]
    assert [entry["key_id"] for entry in entries] == [team["spare"]["id"]]


def test_a_member_sees_no_key_event_of_a_key_they_may_not_see(gatekey: RunningGatekey, team: dict[str, Any]) -> None:
    with gatekey.admin() as admin:
        ok(admin.patch(f"/v1/keys/{team['carl']['key']['id']}", json={"label": "carl's, renamed"}))
    mine = {team["mia"]["key"]["id"], team["spare"]["id"]}
    pages = every_page(gatekey, team["mia"]["key"]["secret"], "/v1/events", limit=2)
    about_keys = [event for page in pages for event in page if event["type"].startswith("key.")]
    assert {event["data"]["id"] for event in about_keys} == mine
    assert all(len(page) == 2 for page in pages[:-1]) and pages[-1]
    every_key_event = [
        event for page in every_page(gatekey, gatekey.admin_token, "/v1/events", limit=200) for event in page
    ]
    assert {team["carl"]["key"]["id"], team["main"]["id"]} <= {event["data"].get("id") for event in every_key_event}


def unkeyed_cursor(cursor: str, org_id: str, listing: str, position: dict[str, str]) -> str:
    """A cursor made by hand the way cursors were checked before: a SHA-256 anyone can compute."""
    payload = json.dumps(position, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(b"\0".join((org_id.encode(), listing.encode(), payload))).hexdigest()[:16]
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + digest


def test_a_hand_made_cursor_with_an_unkeyed_digest_is_400(gatekey: RunningGatekey, team: dict[str, Any]) -> None:
    page = ok(get(gatekey, gatekey.admin_token, "/v1/keys", limit=1))
    genuine = page["next_cursor"]
    assert ok(get(gatekey, gatekey.admin_token, "/v1/keys", limit=1, cursor=genuine))["data"]
    encoded = genuine.partition(".")[0]
    position = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    org_id = page["data"][0]["org_id"]
    # The position of the genuine cursor, then one of the caller's choosing, each with an unkeyed digest.
    for chosen in (position, {**position, "created_sort": "9999-01-01T00:00:00Z#key_z"}):
        response = get(gatekey, gatekey.admin_token, "/v1/keys", cursor=unkeyed_cursor(genuine, org_id, "keys", chosen))
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_cursor"


@pytest.fixture
def no_webhooks_left(gatekey: RunningGatekey) -> Iterator[None]:
    yield
    with gatekey.admin() as admin:
        for webhook in ok(admin.get("/v1/webhooks", params={"limit": 200}))["data"]:
            ok(admin.delete(f"/v1/webhooks/{webhook['id']}"))


def create_webhook(gatekey: RunningGatekey, url: str = HOOK_URL) -> httpx.Response:
    with gatekey.admin() as admin:
        return admin.post("/v1/webhooks", json={"url": url, "events": QUIET_EVENTS})


@pytest.mark.usefixtures("no_webhooks_left")
def test_parallel_webhook_creates_stop_at_the_limit_and_a_deletion_frees_a_place(gatekey: RunningGatekey) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: create_webhook(gatekey), range(16)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * WEBHOOK_LIMIT + [409] * (16 - WEBHOOK_LIMIT), [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"webhook_limit_reached"}
    with gatekey.admin() as admin:
        listed = ok(admin.get("/v1/webhooks", params={"limit": 200}))["data"]
        assert len(listed) == WEBHOOK_LIMIT
        ok(admin.delete(f"/v1/webhooks/{listed[0]['id']}"))
    assert create_webhook(gatekey).status_code == 201
    refused = create_webhook(gatekey)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "webhook_limit_reached"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook\n",
        "http://127.0.0.1:9/a\tb",
        "http://127.0.0.1:9/hook?x=1\r\nX-Injected: 1",
        "http://127.0.0.1:9/\x7f",
    ],
    ids=["newline", "tab-in-path", "crlf-in-query", "delete"],
)
@pytest.mark.usefixtures("no_webhooks_left")
def test_a_webhook_url_with_a_control_character_is_400_naming_the_url(gatekey: RunningGatekey, url: str) -> None:
    response = create_webhook(gatekey, url)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_webhook_url"
    assert error["message"].startswith("url:") and "control characters" in error["message"]


@pytest.mark.parametrize(
    "url", ["https://[::ffff:0:7f00:1]/hook", "https://[::ffff:0:a00:1]/hook", "https://[::ffff:0:a9fe:a9fe]/"]
)
@pytest.mark.usefixtures("no_webhooks_left")
def test_a_webhook_to_an_ipv4_translated_private_address_is_400(gatekey: RunningGatekey, url: str) -> None:
    response = create_webhook(gatekey, url)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_webhook_url"


@pytest.mark.usefixtures("no_webhooks_left")
def test_a_webhook_to_an_ipv4_translated_public_address_is_accepted(gatekey: RunningGatekey) -> None:
    created = ok(create_webhook(gatekey, "https://[::ffff:0:808:808]/hook"), 201)
    assert created["url"] == "https://[::ffff:0:808:808]/hook"
