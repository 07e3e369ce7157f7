"""Events, webhooks and the scheduler through `gatekey serve` over HTTP, with receivers on loopback and
`gatekey run-scheduled` run for times in the future against the same storage."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.e2e.server import GATEKEY, RunningGatekey, ok
from tests.webhook_receiver import Receiver, signature_is_valid

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def no_webhooks_left_behind(shop: RunningGatekey) -> Iterator[None]:
    """Each test's webhooks are deleted after it, so its events do not keep retrying to receivers now gone."""
    yield
    with shop.admin() as admin:
        for webhook in ok(admin.get("/v1/webhooks", params={"limit": 200}))["data"]:
            ok(admin.delete(f"/v1/webhooks/{webhook['id']}"))


def register(gatekey: RunningGatekey, url: str, events: list[str]) -> dict[str, Any]:
    with gatekey.admin() as admin:
        return ok(admin.post("/v1/webhooks", json={"url": url, "events": events}), 201)


def events_of(gatekey: RunningGatekey, **params: Any) -> dict[str, Any]:
    with gatekey.admin() as admin:
        return ok(admin.get("/v1/events", params=params))


def run_scheduled(storage_endpoint: str, at: datetime) -> str:
    moment = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = subprocess.run(
        [str(GATEKEY), "run-scheduled", "--at", moment, "--storage-endpoint", storage_endpoint],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def delivered(receiver: Receiver, event_type: str, key_id: str | None = None) -> list[dict[str, Any]]:
    return [
        event
        for event in receiver.events()
        if event["type"] == event_type and (key_id is None or event["data"]["id"] == key_id)
    ]


def test_connection_created_reaches_the_customers_webhook_with_the_token_signed_as_design_8_says(
    shop: RunningGatekey, receiver: Receiver
) -> None:
    webhook = register(shop, receiver.url, ["connection.created"])
    assert webhook["secret"].startswith("whsec_")
    with shop.admin() as admin:
        connection = ok(admin.post("/v1/connections", json={"provider_slug": "hubspot", "end_user_id": "eu_1"}), 201)

    receiver.wait_for(1)
    ((headers, body),) = receiver.requests
    envelope = json.loads(body)
    assert signature_is_valid(webhook["secret"], headers, body)
    assert headers["Gatekey-Event-Type"] == "connection.created"
    assert headers["Gatekey-Event-Id"] == envelope["id_event"]
    assert envelope["type"] == "connection.created"
    assert envelope["org_id"] == connection["org_id"]
    assert envelope["data"]["id"] == connection["id"]
    assert envelope["data"]["connection_token"] == connection["connection_token"]
    assert {"provider_slug": "hubspot", "end_user_id": "eu_1"}.items() <= envelope["data"].items()
    # The customer can then act for that end-user with the token it was sent.
    with shop.admin() as admin:
        me = ok(admin.get("/v1/me", headers={"X-Connection-Token": envelope["data"]["connection_token"]}))
    assert me["connection"]["id"] == connection["id"]
    # The event API shows the event, without the token (it reaches webhooks only).
    listed = events_of(shop, type="connection.created")["data"]
    assert listed[0]["id_event"] == envelope["id_event"]
    assert "connection_token" not in listed[0]["data"]


def test_no_api_key_secret_reaches_an_event_or_a_webhook(shop: RunningGatekey, receiver: Receiver) -> None:
    register(shop, receiver.url, ["*"])
    with shop.admin() as admin:
        created = ok(admin.post("/v1/keys", json={"label": "secretive", "recoverable": True}), 201)
        rotated = ok(admin.post(f"/v1/keys/{created['id']}/rotate", json={}))
        revealed = ok(admin.post(f"/v1/keys/{created['id']}/reveal"))
        ok(admin.patch(f"/v1/keys/{created['id']}", json={"label": "renamed"}))
        ok(admin.delete(f"/v1/keys/{created['id']}"))

    receiver.wait_for(5)
    assert [event["type"] for event in receiver.events() if event["data"].get("id") == created["id"]] == [
        "key.created",
        "key.rotated",
        "key.revealed",
        "key.updated",
        "key.revoked",
    ]
    everything = b"".join(body for _, body in receiver.requests).decode() + json.dumps(events_of(shop, limit=200))
    for secret in (created["secret"], rotated["secret"], revealed["secret"]):
        assert secret not in everything
        assert secret.split("_")[-1][22:54] not in everything  # not even the secret part of the token


def test_events_are_listed_newest_first_filtered_by_type_and_paged(shop: RunningGatekey) -> None:
    with shop.admin() as admin:
        ids = [ok(admin.post("/v1/keys", json={"label": f"paged {n}"}), 201)["id"] for n in range(3)]
        ok(admin.delete(f"/v1/keys/{ids[0]}"))

    first = events_of(shop, type="key.created", limit=2)
    second = events_of(shop, type="key.created", limit=2, cursor=first["next_cursor"])
    listed = first["data"] + second["data"]
    assert [event["data"]["id"] for event in listed[:3]] == ids[::-1]
    assert all(event["type"] == "key.created" for event in listed)
    times = [event["created_at"] for event in events_of(shop, limit=200)["data"]]
    assert times == sorted(times, reverse=True)
    (revoked,) = [event for event in events_of(shop, type="key.revoked")["data"] if event["data"]["id"] == ids[0]]
    assert revoked["data"]["status"] == "revoked"
    with shop.admin() as admin:
        assert admin.get("/v1/events", params={"type": "key.deleted"}).status_code == 400
        assert admin.get("/v1/events", params={"cursor": first["next_cursor"] + "x"}).status_code == 400


def test_reading_events_needs_events_read(shop: RunningGatekey) -> None:
    without = shop.create_key(label="no events", permissions={"keys": "read"})
    with_it = shop.create_key(label="events reader", permissions={"events": "read"})
    with shop.client(without["secret"]) as client:
        assert client.get("/v1/events").status_code == 403
    with shop.client(with_it["secret"]) as client:
        assert client.get("/v1/events").status_code == 200


def test_another_orgs_events_cursor_and_webhooks_stay_out_of_reach(
    shop: RunningGatekey, rival: RunningGatekey, receiver: Receiver
) -> None:
    webhook = register(shop, receiver.url, ["user.created"])
    page = events_of(shop, limit=1)
    with rival.admin() as admin:
        assert admin.get(f"/v1/webhooks/{webhook['id']}").status_code == 404
        assert admin.delete(f"/v1/webhooks/{webhook['id']}").status_code == 404
        assert webhook["id"] not in {listed["id"] for listed in ok(admin.get("/v1/webhooks"))["data"]}
        assert admin.get("/v1/events", params={"cursor": page["next_cursor"]}).status_code == 400
        rival_events = ok(admin.get("/v1/events", params={"limit": 200}))["data"]
        ok(admin.post("/v1/users", json={"email": "rival@example.com", "name": "Rival"}), 201)
    assert {event["org_id"] for event in rival_events} == {rival_events[0]["org_id"]} != {page["data"][0]["org_id"]}
    time.sleep(1.5)
    assert receiver.requests == [], "the rival's user.created went to the rival's webhooks only"


def test_webhooks_are_listed_without_their_secret_and_a_deleted_one_gets_nothing_more(
    shop: RunningGatekey, receiver: Receiver
) -> None:
    webhook = register(shop, receiver.url, ["user.created", "user.created", "user.deleted"])
    assert webhook["events"] == ["user.created", "user.deleted"]
    with shop.admin() as admin:
        listed = ok(admin.get("/v1/webhooks"))["data"]
        assert webhook["id"] in {item["id"] for item in listed}
        assert all("secret" not in item for item in listed)
        assert "secret" not in ok(admin.get(f"/v1/webhooks/{webhook['id']}"))
        assert ok(admin.delete(f"/v1/webhooks/{webhook['id']}"))["id"] == webhook["id"]
        assert admin.get(f"/v1/webhooks/{webhook['id']}").status_code == 404
        ok(admin.post("/v1/users", json={"email": "after-delete@example.com", "name": "Late"}), 201)
    time.sleep(1.5)
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"url": "https://10.0.0.7/hook", "events": ["*"]}, "private"),
        ({"url": "https://169.254.169.254/latest/meta-data", "events": ["*"]}, "private"),
        ({"url": "http://[::ffff:10.1.2.3]/hook", "events": ["*"]}, "private"),
        ({"url": "ftp://example.com/hook", "events": ["*"]}, "https"),
        ({"url": "https://user:pw@example.com/hook", "events": ["*"]}, "password"),
        ({"url": "https://example.com/hook", "events": ["key.deleted"]}, "events.0: Input should be"),
        ({"url": "https://example.com/hook", "events": []}, "events"),
        ({"url": "https://example.com/hook"}, "events"),
    ],
)
def test_a_webhook_that_cannot_be_registered_is_a_400_saying_why(
    shop: RunningGatekey, body: dict[str, Any], says: str
) -> None:
    with shop.admin() as admin:
        response = admin.post("/v1/webhooks", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]


def test_a_failing_receiver_gets_retries_and_then_the_event_is_dead_lettered(
    shop: RunningGatekey, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 502]
    register(shop, receiver.url, ["user.created"])
    with shop.admin() as admin:
        ok(admin.post("/v1/users", json={"email": "dead-letter@example.com", "name": "DL"}), 201)

    receiver.wait_for(3)
    (event_id,) = {headers["Gatekey-Event-Id"] for headers, _ in receiver.requests}
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName="gatekey-local-webhook-dead-letters")["QueueUrl"]
    deadline = time.monotonic() + 10
    records: list[dict[str, Any]] = []
    while not any(record["requestPayload"]["detail"]["id_event"] == event_id for record in records):
        assert time.monotonic() < deadline, "the event did not reach the dead-letter queue"
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        records += [json.loads(message["Body"]) for message in messages]
    (record,) = [record for record in records if record["requestPayload"]["detail"]["id_event"] == event_id]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert "answered 502" in record["responsePayload"]["errorMessage"]
    assert len(receiver.requests) == 3, "no fourth attempt"


def test_run_scheduled_rotates_keys_whose_policy_is_due_and_announces_expiry_notices_and_expiry(
    shop: RunningGatekey, receiver: Receiver, storage_endpoint: str
) -> None:
    register(shop, receiver.url, ["key.rotated", "key.expiring", "key.expired"])
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + timedelta(days=90)
    with shop.admin() as admin:
        key = ok(
            admin.post(
                "/v1/keys",
                json={
                    "label": "rotated monthly",
                    "recoverable": True,
                    "permissions": {"products": "read"},
                    "rotation": {"interval_days": 30, "grace_period_seconds": 3600},
                    "expires_at": expires_at.isoformat(),
                },
            ),
            201,
        )

    assert "keys rotated 0," in run_scheduled(storage_endpoint, now + timedelta(days=29))
    run_scheduled(storage_endpoint, now + timedelta(days=31))
    receiver.wait_for(1)
    (rotated,) = delivered(receiver, "key.rotated", key["id"])
    assert rotated["data"]["rotated_by"] == "schedule"
    with shop.admin() as admin:
        after = ok(admin.get(f"/v1/keys/{key['id']}"))
        new_token = ok(admin.post(f"/v1/keys/{key['id']}/reveal"))["secret"]
    assert after["rotated_at"] == rotated["data"]["rotated_at"] == rotated["created_at"]
    assert new_token != key["secret"]
    for token in (new_token, key["secret"]):  # the old one lives on for the policy's grace period
        with shop.client(token) as client:
            assert client.get("/products").status_code == 200

    seven_days_before = expires_at - timedelta(days=6, hours=12)
    run_scheduled(storage_endpoint, seven_days_before)
    run_scheduled(storage_endpoint, seven_days_before + timedelta(minutes=15))  # the schedule running again
    run_scheduled(storage_endpoint, expires_at - timedelta(hours=12))
    run_scheduled(storage_endpoint, expires_at + timedelta(minutes=1))
    deadline = time.monotonic() + 15
    while not delivered(receiver, "key.expired", key["id"]) and time.monotonic() < deadline:
        time.sleep(0.1)

    notices = delivered(receiver, "key.expiring", key["id"])
    assert sorted(notice["data"]["notice_days"] for notice in notices) == [1, 7]
    assert len({notice["id_event"] for notice in notices}) == 2
    (expired,) = delivered(receiver, "key.expired", key["id"])
    assert expired["data"]["status"] == "expired"
    with shop.admin() as admin:
        assert ok(admin.get(f"/v1/keys/{key['id']}"))["status"] == "expired"
    with shop.client(new_token) as client:
        assert client.get("/products").status_code == 401


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--at", "yesterday", "--storage-endpoint", "http://127.0.0.1:9"], "not an ISO 8601 time"),
        (["--at", "2027-01-01T00:00:00Z"], "pass --storage-endpoint"),
        (["--at", "2027-01-01T00:00:00Z", "--storage-endpoint", "http://127.0.0.1:9"], "cannot use the local stage"),
    ],
)
def test_run_scheduled_explains_what_it_cannot_do_in_one_line_and_exits_2(arguments: list[str], says: str) -> None:
    result = subprocess.run(
        [str(GATEKEY), "run-scheduled", *arguments], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
