"""Plans against moto's API Gateway over HTTP (DESIGN §13): API Gateway keys with derived values in their plan's two
usage plans, moved, removed; the org and key records; quota.exhausted once per period; and the authorizer naming
the key with no read beyond its one."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gatekey.api import services
from gatekey.configuration import CONFIG_FILE_ENV_VAR, active_configuration
from gatekey.domain.directory import Organisation
from gatekey.domain.errors import ConflictError, NotFoundError
from gatekey.domain.events import EventPublisher
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.domain.permissions import Level
from gatekey.domain.plan_assignment import PlanAssignment
from gatekey.domain.plans import GATEKEY_API, Plan, Plans, Quota, usage_key_value, usage_plan_name
from gatekey.local.embedded import ensure_usage_plans
from gatekey.local.limits import LocalUsageRecords
from gatekey.storage import aws
from gatekey.storage.directory_repository import DirectoryRepository
from gatekey.storage.keys_repository import KeysRepository
from gatekey.storage.usage_plans import ApiGatewayUsagePlans, requests_per_day
from tests.integration.authorizer_events import authorizer_event, invoke

PLANS = Plans(
    {
        "free": Plan("free", 5.0, 10, Quota(3, "day")),
        "pro": Plan("pro", 100.0, 200, Quota(1000, "month")),
    },
    default="free",
)
PLANS_TOML = """
default_plan = "free"
[permissions]
products = "write"
orders = "write"
[plans.free]
rate = 5
burst = 10
quota = { limit = 3, period = "day" }
[plans.pro]
rate = 100
burst = 200
"""


@pytest.fixture
def stage(storage_endpoint: str) -> str:
    """A stage of its own per test, so usage plans and keys never meet another test's."""
    name = f"t{uuid.uuid4().hex[:8]}"
    ensure_usage_plans(name, PLANS)
    return name


@pytest.fixture
def usage_plans(stage: str) -> ApiGatewayUsagePlans:
    return ApiGatewayUsagePlans(stage, services.pepper())


def usage_plans_of(api_key_id: str) -> set[str]:
    return {plan["name"] for plan in aws.apigateway_client().get_usage_plans(keyId=api_key_id)["items"]}


def test_an_orgs_key_has_its_derived_value_and_sits_in_both_usage_plans_of_its_plan(
    usage_plans: ApiGatewayUsagePlans, stage: str
) -> None:
    key_id = usage_plans.ensure("org_one", "free")
    stored = aws.apigateway_client().get_api_key(apiKey=key_id, includeValue=True)
    assert stored["value"] == usage_key_value(services.pepper().key(), "org_one")
    assert stored["name"] == f"gatekey-{stage}-org_one" and stored["enabled"]
    assert usage_plans_of(key_id) == {usage_plan_name(stage, "free"), usage_plan_name(stage, "free", GATEKEY_API)}
    assert usage_plans.ensure("org_one", "free") == key_id  # idempotent: no second key, no second membership
    assert len(aws.apigateway_client().get_api_keys(nameQuery=f"gatekey-{stage}-org_one")["items"]) == 1
    assert usage_plans.subject_of(key_id) == "org_one"


def test_moving_to_another_plan_leaves_the_old_usage_plans(usage_plans: ApiGatewayUsagePlans, stage: str) -> None:
    key_id = usage_plans.ensure("org_two", "free")
    assert usage_plans.ensure("org_two", "pro") == key_id  # the same key, so its value and counts stay
    assert usage_plans_of(key_id) == {usage_plan_name(stage, "pro"), usage_plan_name(stage, "pro", GATEKEY_API)}


def test_removing_deletes_the_key_and_a_foreign_key_is_nobodys(usage_plans: ApiGatewayUsagePlans) -> None:
    key_id = usage_plans.ensure("key_gone", "free")
    usage_plans.remove("key_gone")
    usage_plans.remove("key_gone")  # nothing left: no error
    assert usage_plans.api_key_id("key_gone") is None
    with pytest.raises(ClientError):
        aws.apigateway_client().get_api_key(apiKey=key_id)
    foreign = aws.apigateway_client().create_api_key(name="someone else's", enabled=True)["id"]
    assert usage_plans.subject_of(foreign) is None


def test_a_plan_the_stage_has_no_usage_plan_for_is_a_conflict(stage: str) -> None:
    with pytest.raises(ConflictError) as raised:
        ApiGatewayUsagePlans(stage, services.pepper()).ensure("org_three", "gold")
    assert raised.value.code == "plan_not_deployed"


def test_past_awss_api_key_limit_a_key_of_its_own_is_plan_capacity(
    usage_plans: ApiGatewayUsagePlans, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injected: API Gateway's LimitExceededException for the 10,001st key of the region."""
    client = aws.apigateway_client()

    def limit_exceeded(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "limit"}}, "CreateApiKey")

    monkeypatch.setattr(client, "create_api_key", limit_exceeded)
    with pytest.raises(ConflictError) as raised:
        usage_plans.ensure("key_one_too_many", "pro")
    assert raised.value.code == "plan_capacity"


def test_get_usage_items_read_as_requests_per_day() -> None:
    """The shape of API Gateway's GetUsage `items` (moto has no GetUsage): [used, remaining] per day."""
    assert requests_per_day({"abc123": [[5, 995], [0, 995], [12, 983]]}) == {"abc123": [5, 0, 12]}


@pytest.fixture
def assignment(
    stage: str, directory: DirectoryRepository, keys_repository: KeysRepository
) -> Iterator[tuple[PlanAssignment, LocalUsageRecords, list[Any]]]:
    records = LocalUsageRecords(stage)
    announced: list[Any] = []

    class Recording(EventPublisher):
        def __init__(self) -> None:
            pass

        def announce(self, event: Any) -> None:  # type: ignore[override]
            announced.append(event)

    yield (
        PlanAssignment(
            PLANS,
            ApiGatewayUsagePlans(stage, services.pepper()),
            records,
            directory,
            keys_repository,
            events=Recording(),
        ),
        records,
        announced,
    )


def test_a_new_org_starts_on_the_default_plan_and_moves(
    assignment: tuple[PlanAssignment, LocalUsageRecords, list[Any]], org: Any, directory: DirectoryRepository
) -> None:
    plans, _, announced = assignment
    started = plans.start_org(org)
    assert started.plan == "free" and directory.get_org(org.org_id).plan == "free"  # type: ignore[union-attr]
    moved, changed = plans.assign_org(org.org_id, "pro")
    assert changed and moved.plan == "pro"
    assert plans.assign_org(org.org_id, "pro")[1] is False
    assert [(event.type, event.data["previous_plan"], event.data["plan"]) for event in announced] == [
        ("plan.changed", "free", "pro")
    ]
    plans.forget_org(org.org_id)
    assert ApiGatewayUsagePlans.api_key_id(plans._identities, org.org_id) is None  # type: ignore[arg-type]


def test_sync_puts_orgs_without_a_known_plan_on_the_default_and_every_orgs_key_back_in_its_usage_plans(
    assignment: tuple[PlanAssignment, LocalUsageRecords, list[Any]],
    directory: DirectoryRepository,
    stage: str,
) -> None:
    plans, _, announced = assignment
    usage_plans = ApiGatewayUsagePlans(stage, services.pepper())
    now = datetime.now(UTC)
    before_plans, on_a_removed_plan, on_pro = (
        Organisation(org_id=new_id("org"), name=name, key_limit=5, created_at=now, plan=plan)
        for name, plan in (("Old", None), ("Gold", "gold"), ("Pro", "pro"))
    )
    for org in (before_plans, on_a_removed_plan, on_pro):
        directory.create_org(org)
    pro_key = usage_plans.ensure(on_pro.org_id, "pro")
    aws.apigateway_client().delete_usage_plan_key(
        usagePlanId=aws.apigateway_client().get_usage_plans(keyId=pro_key)["items"][0]["id"], keyId=pro_key
    )  # its key lost a usage plan: a stack replaced, say

    assert [plans.sync_org(org) for org in (before_plans, on_a_removed_plan, on_pro)] == [True, True, False]
    assert [directory.get_org(org.org_id).plan for org in (before_plans, on_a_removed_plan, on_pro)] == [  # type: ignore[union-attr]
        "free",
        "free",
        "pro",
    ]
    assert usage_plans_of(pro_key) == {usage_plan_name(stage, "pro"), usage_plan_name(stage, "pro", GATEKEY_API)}
    old_key = usage_plans.api_key_id(before_plans.org_id)
    assert old_key and usage_plans_of(old_key) == {
        usage_plan_name(stage, "free"),
        usage_plan_name(stage, "free", GATEKEY_API),
    }
    # Only the org whose plan went away is told: the other had none to change from.
    assert [(event.org_id, event.data["previous_plan"], event.data["plan"]) for event in announced] == [
        (on_a_removed_plan.org_id, "gold", "free")
    ]
    assert [plans.sync_org(directory.get_org(on_pro.org_id)) for _ in range(2)] == [False, False]  # type: ignore[arg-type]


def test_a_key_gets_a_plan_of_its_own_and_gives_it_back(
    assignment: tuple[PlanAssignment, LocalUsageRecords, list[Any]],
    lifecycle: KeyLifecycle,
    admin: Caller,
    keys_repository: KeysRepository,
) -> None:
    plans, _, _ = assignment
    key, _ = lifecycle.create(admin, NewKey(label="busy", permissions={"products": Level.READ}))
    with_plan, changed = plans.assign_key(key.key_id, "pro")
    assert changed and keys_repository.get(key.key_id).plan == "pro"  # type: ignore[union-attr]
    assert with_plan.usage_subject == key.key_id
    plans.assign_key(key.key_id, None)
    assert keys_repository.get(key.key_id).plan is None  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        plans.assign_key("key_AAAAAAAAAAAAAAAAAAAAAA", "pro")


def test_an_exhausted_quota_is_announced_once_per_period(
    assignment: tuple[PlanAssignment, LocalUsageRecords, list[Any]], org: Any, stage: str
) -> None:
    plans, records, announced = assignment
    plans.start_org(org)
    api_key_id = ApiGatewayUsagePlans(stage, services.pepper()).api_key_id(org.org_id)
    assert api_key_id is not None
    today = datetime.now(UTC)
    for _ in range(3):
        records.record(usage_plan_name(stage, "free"), api_key_id, today.date())
    assert plans.announce_exhausted_quotas(today) == 1
    assert plans.announce_exhausted_quotas(today + timedelta(minutes=5)) == 0
    (event,) = announced
    assert (event.type, event.org_id, event.data["used"], event.data["limit"]) == ("quota.exhausted", org.org_id, 3, 3)
    assert event.data["period_start"] == f"{today.date().isoformat()}T00:00:00.000Z"  # times end in Z (DESIGN §7)
    assert plans.announce_exhausted_quotas(today + timedelta(days=1)) == 0  # a new day: nothing used yet


@pytest.fixture
def authorizer_with_plans(
    lifecycle: KeyLifecycle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """The authorizer Lambda's module loaded afresh, as deployed with a configuration that has plans. After
    `lifecycle`: the keys are made by the services as they are (no plans here), whatever the test's order."""
    config = tmp_path / "gatekey.toml"
    config.write_text(PLANS_TOML)
    monkeypatch.setenv(CONFIG_FILE_ENV_VAR, str(config))
    active_configuration.cache_clear()
    spec = importlib.util.spec_from_file_location(
        "authorizer_with_plans", Path(services.__file__).parents[1] / "handlers" / "authorizer.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    monkeypatch.delenv(CONFIG_FILE_ENV_VAR)
    active_configuration.cache_clear()


def test_the_authorizer_names_the_orgs_or_the_keys_own_api_gateway_key_in_its_one_read(
    authorizer_with_plans: ModuleType,
    lifecycle: KeyLifecycle,
    admin: Caller,
    keys_repository: KeysRepository,
    aws_calls: list[str],
) -> None:
    key, token = lifecycle.create(admin, NewKey(label="k", permissions={"products": Level.READ}))
    invoke(authorizer_with_plans, authorizer_event(token.value))  # cold: fetches the pepper once
    aws_calls.clear()
    answer = invoke(authorizer_with_plans, authorizer_event(token.value))
    assert isinstance(answer, dict)
    assert answer["usageIdentifierKey"] == usage_key_value(services.pepper().key(), admin.org_id)
    assert aws_calls == ["dynamodb:GetItem"]
    keys_repository.set_plan(key, "pro")
    answer = invoke(authorizer_with_plans, authorizer_event(token.value))
    assert isinstance(answer, dict)
    assert answer["usageIdentifierKey"] == usage_key_value(services.pepper().key(), key.key_id)
    refused = invoke(authorizer_with_plans, authorizer_event(token.value, path="/orders"))
    assert isinstance(refused, dict) and "usageIdentifierKey" not in refused


def test_without_plans_the_authorizer_names_no_key(authorizer: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    _, token = lifecycle.create(admin, NewKey(label="k", permissions={"products": Level.READ}))
    answer = invoke(authorizer, authorizer_event(token.value))
    assert isinstance(answer, dict) and "usageIdentifierKey" not in answer


def test_usage_reads_days_in_order(
    assignment: tuple[PlanAssignment, LocalUsageRecords, list[Any]], org: Any, stage: str
) -> None:
    plans, records, _ = assignment
    plans.start_org(org)
    api_key_id = ApiGatewayUsagePlans(stage, services.pepper()).api_key_id(org.org_id)
    assert api_key_id
    day = date.today() - timedelta(days=2)
    records.record(usage_plan_name(stage, "free"), api_key_id, day)
    counts = records.daily_usage("free", day, day + timedelta(days=2), api_key_id)
    assert counts == {api_key_id: [1, 0, 0]}
