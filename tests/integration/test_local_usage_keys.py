"""`gatekey serve`'s usage plans in the embedded API Gateway (moto's server): made as the construct makes them, and
a key's value resolved to its plan as API Gateway finds it, following the key when it moves to another plan."""

from __future__ import annotations

import secrets
import uuid

import boto3
import pytest

from gatekey.domain.plans import GATEKEY_API, PROTECTED_APIS, Plan, Plans, Quota, usage_plan_name
from gatekey.local.embedded import ensure_usage_plans
from gatekey.local.limits import ApiGatewayUsageKeys, UsageKey

PLANS = Plans(
    {
        "free": Plan("free", rate=5, burst=10, quota=Quota(1000, "day")),
        "pro": Plan("pro", rate=100, burst=200, quota=Quota(1_000_000, "month")),
    },
    "free",
)


SCOPES = (PROTECTED_APIS, GATEKEY_API)


@pytest.fixture
def stage(storage_endpoint: str) -> str:
    """A stage of its own, so its usage plans are this test's alone in the session's moto."""
    return f"t{uuid.uuid4().hex[:10]}"


def new_key() -> tuple[str, str]:
    """An API Gateway key (its id and value), as Gatekey makes one for an org."""
    value = "gku_" + secrets.token_urlsafe(32)
    created = boto3.client("apigateway").create_api_key(name=f"gatekey-test-{value[4:12]}", value=value, enabled=True)
    return created["id"], value


def test_usage_plans_get_the_plans_throttle_and_quota_once(stage: str) -> None:
    client = boto3.client("apigateway")
    ids = ensure_usage_plans(stage, PLANS)

    assert set(ids) == {usage_plan_name(stage, plan, scope) for plan in PLANS.names() for scope in SCOPES}
    for scope in SCOPES:
        free = client.get_usage_plan(usagePlanId=ids[usage_plan_name(stage, "free", scope)])
        assert free["name"] == usage_plan_name(stage, "free", scope)
        assert (free["throttle"], free["quota"]) == (
            {"rateLimit": 5, "burstLimit": 10},
            {"limit": 1000, "period": "DAY"},
        )
        pro = client.get_usage_plan(usagePlanId=ids[usage_plan_name(stage, "pro", scope)])
        assert pro["quota"] == {"limit": 1_000_000, "period": "MONTH"}
    assert ensure_usage_plans(stage, PLANS) == ids


def test_a_kept_usage_plan_is_given_the_changed_limits(stage: str) -> None:
    client = boto3.client("apigateway")
    ids = ensure_usage_plans(stage, PLANS)

    changed = Plans({"free": Plan("free", rate=7, burst=14), "pro": PLANS["pro"]}, "free")
    assert ensure_usage_plans(stage, changed) == ids
    for scope in SCOPES:
        free = client.get_usage_plan(usagePlanId=ids[usage_plan_name(stage, "free", scope)])
        assert free["throttle"] == {"rateLimit": 7, "burstLimit": 14}
        assert "quota" not in free


def test_a_key_resolves_to_its_plan_and_follows_it_to_another(stage: str) -> None:
    client = boto3.client("apigateway")
    ids = ensure_usage_plans(stage, PLANS)
    keys = ApiGatewayUsageKeys(PLANS, stage)
    key_id, value = new_key()
    free, pro = ids[usage_plan_name(stage, "free")], ids[usage_plan_name(stage, "pro")]

    assert keys.resolve(value, PROTECTED_APIS) is None  # in no usage plan yet
    client.create_usage_plan_key(usagePlanId=free, keyId=key_id, keyType="API_KEY")
    assert keys.resolve(value, PROTECTED_APIS) == UsageKey(key_id, usage_plan_name(stage, "free"), PLANS["free"])

    client.delete_usage_plan_key(usagePlanId=free, keyId=key_id)
    client.create_usage_plan_key(usagePlanId=pro, keyId=key_id, keyType="API_KEY")
    assert keys.resolve(value, PROTECTED_APIS) == UsageKey(key_id, usage_plan_name(stage, "pro"), PLANS["pro"])


def test_a_key_counts_on_gatekeys_api_only_in_its_plans_usage_plan_for_gatekeys_api(stage: str) -> None:
    client = boto3.client("apigateway")
    ids = ensure_usage_plans(stage, PLANS)
    keys = ApiGatewayUsageKeys(PLANS, stage)
    key_id, value = new_key()
    client.create_usage_plan_key(usagePlanId=ids[usage_plan_name(stage, "free")], keyId=key_id, keyType="API_KEY")
    assert keys.resolve(value, GATEKEY_API) is None  # API Gateway refuses a key in no usage plan of the API asked

    own = usage_plan_name(stage, "free", GATEKEY_API)
    client.create_usage_plan_key(usagePlanId=ids[own], keyId=key_id, keyType="API_KEY")
    assert keys.resolve(value, GATEKEY_API) == UsageKey(key_id, own, PLANS["free"])
    assert keys.resolve(value, PROTECTED_APIS) == UsageKey(key_id, usage_plan_name(stage, "free"), PLANS["free"])


def test_a_key_made_after_the_first_look_is_found(stage: str) -> None:
    client = boto3.client("apigateway")
    ids = ensure_usage_plans(stage, PLANS)
    keys = ApiGatewayUsageKeys(PLANS, stage)
    assert keys.resolve("gku_not_yet", PROTECTED_APIS) is None

    key_id, value = new_key()
    client.create_usage_plan_key(usagePlanId=ids[usage_plan_name(stage, "pro")], keyId=key_id, keyType="API_KEY")
    assert keys.resolve(value, PROTECTED_APIS) == UsageKey(key_id, usage_plan_name(stage, "pro"), PLANS["pro"])


def test_a_key_made_again_under_the_same_value_is_found_by_its_new_id(stage: str) -> None:
    client = boto3.client("apigateway")
    ids = ensure_usage_plans(stage, PLANS)
    keys = ApiGatewayUsageKeys(PLANS, stage)
    old_id, value = new_key()
    free, pro = usage_plan_name(stage, "free"), usage_plan_name(stage, "pro")
    client.create_usage_plan_key(usagePlanId=ids[free], keyId=old_id, keyType="API_KEY")
    assert keys.resolve(value, PROTECTED_APIS) == UsageKey(old_id, free, PLANS["free"])

    client.delete_usage_plan_key(usagePlanId=ids[free], keyId=old_id)  # API Gateway does it; moto does not
    client.delete_api_key(apiKey=old_id)
    new_id = client.create_api_key(name="gatekey-test-again", value=value, enabled=True)["id"]
    client.create_usage_plan_key(usagePlanId=ids[pro], keyId=new_id, keyType="API_KEY")
    assert keys.resolve(value, PROTECTED_APIS) == UsageKey(new_id, pro, PLANS["pro"])


def test_a_usage_plan_of_another_stage_or_plan_is_no_plan_here(stage: str) -> None:
    client = boto3.client("apigateway")
    ensure_usage_plans(stage, PLANS)
    elsewhere = ensure_usage_plans(f"{stage}x", PLANS)
    unknown = client.create_usage_plan(name=usage_plan_name(stage, "retired"))["id"]
    key_id, value = new_key()
    client.create_usage_plan_key(
        usagePlanId=elsewhere[usage_plan_name(f"{stage}x", "free")], keyId=key_id, keyType="API_KEY"
    )
    client.create_usage_plan_key(usagePlanId=unknown, keyId=key_id, keyType="API_KEY")

    assert ApiGatewayUsageKeys(PLANS, stage).resolve(value, PROTECTED_APIS) is None
