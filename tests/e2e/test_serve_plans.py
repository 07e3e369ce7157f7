"""Plans through `gatekey serve --config` (DESIGN §13): its local gateway holds each request to the usage plan of
the API Gateway key the authorizer names, as API Gateway does, and GET /v1/usage reads the same counts.

The partner (on the roomy default plan) makes a customer org per test and moves it to the plan under test, so each
test starts from fresh counts; the customer's keys then call the demo store.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from gatekey.domain.plans import usage_key_name
from gatekey.local.embedded import LOCAL_CREDENTIALS, LOCAL_REGION
from tests.e2e.server import RunningGatekey, ok, run_gatekey, start_gatekey

CONFIG = """
default_plan = "roomy"

[permissions]
products = "write"
orders = "read"

[plans.roomy]
rate = 200
burst = 200

[plans.tiny]
rate = 1
burst = 3

[plans.capped]
rate = 200
burst = 200
quota = { limit = 7, period = "day" }
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plans") / "gatekey.toml"
    path.write_text(CONFIG)
    return path


# moto keeps its data per process, so a store of this module's own runs in a process of its own.
STORE_PROCESS = """
import sys
from gatekey.local.embedded import EmbeddedAws
store = EmbeddedAws()
print(store.start(), flush=True)
sys.stdin.read()  # until the test closes it
store.stop()
"""


@pytest.fixture(scope="module")
def storage_endpoint() -> Iterator[str]:
    """A store of this module's own (moto's server, as `gatekey serve` embeds it): `gatekey plans sync` changes every
    org of the stage, which must be this module's alone."""
    store = subprocess.Popen(
        [sys.executable, "-c", STORE_PROCESS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert store.stdout and store.stdin
    try:
        yield store.stdout.readline().strip()
    finally:
        store.stdin.close()
        store.wait(timeout=15)


@pytest.fixture(scope="module")
def gatekey(storage_endpoint: str, config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    # A storage endpoint of its own choosing, so `gatekey plans assign` can reach the same store; a scheduler run
    # every second, so quota.exhausted goes out while the test waits.
    with start_gatekey(
        tmp_path_factory.mktemp("serve"),
        "--config",
        str(config),
        "--storage-endpoint",
        storage_endpoint,
        "--schedule-interval",
        "1",
    ) as running:
        yield running


class Customer:
    """A customer org the partner made, with an admin user and keys on it."""

    def __init__(self, gatekey: RunningGatekey, org: dict[str, Any], admin_key: dict[str, Any]) -> None:
        self.gatekey = gatekey
        self.org = org
        self.admin_key = admin_key

    def admin(self) -> httpx.Client:
        return self.gatekey.client(self.admin_key["secret"])

    def new_key(self, label: str) -> dict[str, Any]:
        with self.admin() as admin:
            return ok(admin.post("/v1/keys", json={"label": label, "permissions": {"products": "read"}}), 201)

    def usage(self, **query: str) -> dict[str, Any]:
        with self.admin() as admin:
            return ok(admin.get("/v1/usage", params=query))


def partner(gatekey: RunningGatekey) -> httpx.Client:
    return gatekey.client(gatekey.partner_token)


def customer_on(gatekey: RunningGatekey, plan: str, name: str) -> Customer:
    with partner(gatekey) as client:
        org = ok(client.post("/v1/orgs", json={"name": name}), 201)
        assert org["plan"] == "roomy"  # every org starts on the default plan
        user = ok(
            client.post(
                f"/v1/orgs/{org['id']}/users",
                json={"email": f"admin@{org['id'].lower()}.example", "name": "admin", "role": "admin"},
            ),
            201,
        )
        key = ok(
            client.post(
                f"/v1/orgs/{org['id']}/users/{user['id']}/keys",
                json={"label": "admin key", "permissions": {"keys": "write", "events": "read", "products": "read"}},
            ),
            201,
        )
        if plan != "roomy":
            org = ok(client.put(f"/v1/orgs/{org['id']}/plan", json={"plan": plan}))
    return Customer(gatekey, org, key)


def statuses(gatekey: RunningGatekey, token: str, times: int) -> list[int]:
    with gatekey.client(token) as client:
        return [client.get("/products").status_code for _ in range(times)]


def test_a_burst_is_throttled_then_served_again_once_the_bucket_refills(gatekey: RunningGatekey) -> None:
    customer = customer_on(gatekey, "tiny", "Bursty")
    key = customer.new_key("script")
    with gatekey.client(key["secret"]) as client:
        answers = [client.get("/products") for _ in range(6)]
        assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]  # the bucket holds 3
        throttled = answers[-1]
        assert throttled.status_code == 429
        assert throttled.json() == {"message": "Too Many Requests"}
        assert throttled.headers["retry-after"] == "1"
        assert throttled.headers["gatekey-version"]
        time.sleep(1.2)  # 1 request a second refills one place
        assert client.get("/products").status_code == 200


def test_the_keys_of_one_org_share_its_limit(gatekey: RunningGatekey) -> None:
    customer = customer_on(gatekey, "tiny", "Sharing")
    first, second = customer.new_key("first"), customer.new_key("second")
    assert statuses(gatekey, first["secret"], 3) == [200, 200, 200]
    assert statuses(gatekey, second["secret"], 1) == [429]


def test_the_quota_ends_at_exactly_its_limit_and_usage_agrees(gatekey: RunningGatekey) -> None:
    customer = customer_on(gatekey, "capped", "Capped")
    key = customer.new_key("counted")
    with gatekey.client(key["secret"]) as client:
        answers = [client.get("/products") for _ in range(10)]
    assert [answer.status_code for answer in answers] == [200] * 7 + [429] * 3
    assert answers[-1].json() == {"message": "Limit Exceeded"}
    # Gatekey's own API counts apart: the customer still reads its usage and manages its keys.
    usage = customer.usage()
    assert usage["plan"] == {"name": "capped", "rate": 200.0, "burst": 200, "quota": {"limit": 7, "period": "day"}}
    assert (usage["used"], usage["remaining"]) == (7, 0)
    assert len(usage["daily"]) == 30 and usage["daily"][-1]["requests"] == 7
    assert usage["period_start"].endswith("T00:00:00.000Z")


def test_a_plan_change_bites_on_the_next_request_and_is_announced(gatekey: RunningGatekey) -> None:
    customer = customer_on(gatekey, "capped", "Upgraded")
    key = customer.new_key("busy")
    assert statuses(gatekey, key["secret"], 8)[-1] == 429
    with partner(gatekey) as client:
        moved = ok(client.put(f"/v1/orgs/{customer.org['id']}/plan", json={"plan": "roomy"}))
        again = ok(client.put(f"/v1/orgs/{customer.org['id']}/plan", json={"plan": "roomy"}))
    assert moved["plan"] == again["plan"] == "roomy"
    assert statuses(gatekey, key["secret"], 1) == [200]
    with customer.admin() as admin:
        events = ok(admin.get("/v1/events", params={"type": "plan.changed"}))["data"]
    changes = [(event["data"]["previous_plan"], event["data"]["plan"]) for event in events]
    assert sorted(changes) == [("capped", "roomy"), ("roomy", "capped")]  # the second PUT changed nothing


def test_rotating_a_key_keeps_its_count(gatekey: RunningGatekey) -> None:
    customer = customer_on(gatekey, "capped", "Rotating")
    key = customer.new_key("rotated")
    assert statuses(gatekey, key["secret"], 5) == [200] * 5
    with customer.admin() as admin:
        rotated = ok(admin.post(f"/v1/keys/{key['id']}/rotate"))
    assert statuses(gatekey, rotated["secret"], 3) == [200, 200, 429]


def test_a_key_with_a_plan_of_its_own_does_not_share_the_orgs(
    gatekey: RunningGatekey, config: Path, storage_endpoint: str
) -> None:
    customer = customer_on(gatekey, "capped", "Apart")
    shared, apart = customer.new_key("shared"), customer.new_key("apart")
    assigned = run_gatekey(
        "plans", "assign", "--key", apart["id"], "--plan", "roomy", "--config", str(config),
        "--storage-endpoint", storage_endpoint,
    )  # fmt: skip
    assert assigned.returncode == 0, assigned.stderr
    assert apart["id"] in assigned.stdout
    assert statuses(gatekey, shared["secret"], 8)[-1] == 429  # the org's quota is used up
    assert statuses(gatekey, apart["secret"], 3) == [200, 200, 200]
    own = customer.usage(key_id=apart["id"])
    assert (own["plan"]["name"], own["key_id"], own["daily"][-1]["requests"]) == ("roomy", apart["id"], 3)
    assert customer.usage()["used"] == 7
    with customer.admin() as admin:
        assert ok(admin.get(f"/v1/keys/{apart['id']}"))["plan"] == "roomy"
    back = run_gatekey(
        "plans", "assign", "--key", apart["id"], "--shared", "--config", str(config),
        "--storage-endpoint", storage_endpoint,
    )  # fmt: skip
    assert back.returncode == 0, back.stderr
    assert statuses(gatekey, apart["secret"], 1) == [429]  # back on the org's used-up quota


def test_the_exhausted_quota_is_announced_once_per_period(gatekey: RunningGatekey) -> None:
    customer = customer_on(gatekey, "capped", "Exhausted")
    key = customer.new_key("hungry")
    statuses(gatekey, key["secret"], 7)
    deadline = time.monotonic() + 20
    with customer.admin() as admin:
        while True:
            events = ok(admin.get("/v1/events", params={"type": "quota.exhausted"}))["data"]
            if events or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        time.sleep(2.5)  # two more scheduler runs
        events = ok(admin.get("/v1/events", params={"type": "quota.exhausted"}))["data"]
    assert len(events) == 1
    data = events[0]["data"]
    assert (data["org_id"], data["plan"], data["limit"], data["used"]) == (customer.org["id"], "capped", 7, 7)


def test_unknown_plans_and_other_partners_orgs_are_refused(gatekey: RunningGatekey) -> None:
    customer = customer_on(gatekey, "roomy", "Refusals")
    with partner(gatekey) as client:
        unknown = client.put(f"/v1/orgs/{customer.org['id']}/plan", json={"plan": "platinum"})
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "unknown_plan")
        assert "capped" in unknown.json()["error"]["message"]
        assert client.put("/v1/orgs/org_AAAAAAAAAAAAAAAAAAAAAA/plan", json={"plan": "tiny"}).status_code == 404
    with customer.admin() as admin:  # not a partner key: the authorizer refuses orgs:write
        assert admin.put(f"/v1/orgs/{customer.org['id']}/plan", json={"plan": "tiny"}).status_code == 403
    member_view = customer.gatekey.client(customer.new_key("integration")["secret"])
    with member_view:
        assert member_view.get("/v1/usage").status_code == 403  # a main key without keys:write is no admin


def api_gateway_keys(storage_endpoint: str) -> dict[str, str]:
    """The embedded API Gateway's keys: name -> value."""
    client = boto3.client(
        "apigateway",
        endpoint_url=storage_endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    pages = client.get_paginator("get_api_keys").paginate(includeValues=True)
    return {key["name"]: key["value"] for page in pages for key in page["items"]}


def test_revoking_a_key_with_its_own_plan_or_deleting_an_org_removes_their_api_gateway_keys_whose_values_stay_secret(
    gatekey: RunningGatekey, config: Path, storage_endpoint: str
) -> None:
    customer = customer_on(gatekey, "roomy", "Leaving")
    apart = customer.new_key("apart")
    assigned = run_gatekey(
        "plans", "assign", "--key", apart["id"], "--plan", "capped", "--config", str(config),
        "--storage-endpoint", storage_endpoint,
    )  # fmt: skip
    assert assigned.returncode == 0, assigned.stderr
    org_key, own_key = usage_key_name("local", customer.org["id"]), usage_key_name("local", apart["id"])
    values = api_gateway_keys(storage_endpoint)
    secrets = (values[org_key], values[own_key])
    assert statuses(gatekey, apart["secret"], 1) == [200]
    with customer.admin() as admin:
        shown = [
            admin.get(f"/v1/keys/{apart['id']}").text,
            admin.get("/v1/usage", params={"key_id": apart["id"]}).text,
            admin.get("/v1/events").text,
            admin.get("/v1/logs").text,
        ]
        ok(admin.delete(f"/v1/keys/{apart['id']}"))
    assert not any(secret in text for secret in secrets for text in [*shown, assigned.stdout, assigned.stderr])
    assert own_key not in api_gateway_keys(storage_endpoint) and org_key in api_gateway_keys(storage_endpoint)
    with partner(gatekey) as client:
        ok(client.delete(f"/v1/orgs/{customer.org['id']}"))
    assert org_key not in api_gateway_keys(storage_endpoint)


def orgs_of_the_stage(gatekey: RunningGatekey) -> list[dict[str, Any]]:
    """The partner's own org and every org it made."""
    with partner(gatekey) as client:
        made = ok(client.get("/v1/orgs", params={"limit": 100}))["data"]
    return [{"id": "the partner's org"}, *made]


def test_plans_sync_checks_every_org_and_a_bad_assignment_is_one_line(
    gatekey: RunningGatekey, config: Path, storage_endpoint: str
) -> None:
    customer = customer_on(gatekey, "roomy", "Synced")
    at_the_store = ("--config", str(config), "--storage-endpoint", storage_endpoint)
    synced = run_gatekey("plans", "sync", *at_the_store)
    assert synced.returncode == 0, synced.stderr
    counts = re.fullmatch(r"(\d+) organisation\(s\) checked, (\d+) put on the default plan\n", synced.stdout)
    assert counts, synced.stdout
    checked, moved = counts.groups()
    # Every org of the stage (the partner's and its customers'), each on a plan already.
    assert (int(checked), moved) == (len(orgs_of_the_stage(gatekey)), "0")
    unknown = run_gatekey("plans", "assign", "--org", "org_AAAAAAAAAAAAAAAAAAAAAA", "--plan", "tiny", *at_the_store)
    assert (unknown.returncode, unknown.stderr) == (2, "gatekey: no organisation 'org_AAAAAAAAAAAAAAAAAAAAAA'\n")
    no_plan = run_gatekey("plans", "assign", "--org", customer.org["id"], "--plan", "platinum", *at_the_store)
    assert no_plan.returncode == 2 and no_plan.stderr.startswith("gatekey: plan: no plan of that name")
