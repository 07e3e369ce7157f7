"""Plans in the synthesized stack (DESIGN §13): two usage plans per plan, one over the protected APIs' stages and
one over the management API's, API keys named by the authorizer on every authorized method, 429 answers in Gatekey's
JSON, and what the functions may do with API keys and usage plans. A configuration without plans has none of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_apigateway as apigateway
from stack_synthesis import (
    SynthesizedStage,
    as_list,
    management_api_id,
    methods_by_route,
    policy_statements,
    rest_api_id,
    stage_of,
    store_api_id,
    synthesize,
    write_config_with_plans,
)

from gatekey.api_gateway import GATEKEY_FUNCTIONS, MANAGEMENT_API, SCHEDULER, LambdaFunction
from gatekey.domain.plans import GATEKEY_API, PROTECTED_APIS, UsagePlanScope, usage_plan_name
from gatekey.settings import API_VERSION
from infra.stack import GatekeyStack

# What stack_synthesis.PLANS says, as API Gateway's usage plans must say it.
EXPECTED_LIMITS: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "free": ({"RateLimit": 5, "BurstLimit": 10}, {"Limit": 1000, "Period": "DAY", "Offset": 0}),
    "team": ({"RateLimit": 50, "BurstLimit": 100}, {"Limit": 100000, "Period": "WEEK", "Offset": 0}),
    "pro": ({"RateLimit": 100, "BurstLimit": 200}, {"Limit": 1000000, "Period": "MONTH", "Offset": 0}),
    "batch": ({"RateLimit": 0.5, "BurstLimit": 1}, None),
}
APIGATEWAY_ARN_PREFIX = "arn:<AWS::Partition>:apigateway:<AWS::Region>::"
# API Gateway paths (`{plan}`: each usage plan's id) -> the HTTP verbs a function may use on them.
MANAGEMENT_API_GRANTS = {
    "/apikeys": {"GET", "POST"},
    "/apikeys/*": {"GET", "DELETE"},
    "/usageplans": {"GET"},
    "/usageplans/{plan}/usage": {"GET"},
    "/usageplans/{plan}/keys": {"POST"},
    "/usageplans/{plan}/keys/*": {"DELETE"},
}
SCHEDULER_GRANTS = {"/apikeys/*": {"GET"}, "/usageplans": {"GET"}, "/usageplans/{plan}/usage": {"GET"}}
USAGE_PLANS_PER_PLAN = 2  # the protected APIs', Gatekey's own API's


def usage_plans(stage: SynthesizedStage) -> dict[str, tuple[str, dict[str, Any]]]:
    """Usage plan name -> (logical id, properties)."""
    return {
        plan["Properties"]["UsagePlanName"]: (name, plan["Properties"])
        for name, plan in stage.resources_of_type("AWS::ApiGateway::UsagePlan").items()
    }


def deployment_of(stage: SynthesizedStage, api_id: str) -> str:
    (name,) = [
        name
        for name, resource in stage.resources_of_type("AWS::ApiGateway::Deployment").items()
        if resource["Properties"]["RestApiId"] == {"Ref": api_id}
    ]
    return name


def rendered(value: Any, names: dict[str, str]) -> str:
    """An ARN as the template builds it, `Ref`s written <Name> (or as `names` renames them)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return names.get(value["Ref"], f"<{value['Ref']}>")
    separator, parts = value["Fn::Join"]
    return separator.join(rendered(part, names) for part in parts)


def apigateway_grants(stage: SynthesizedStage, definition: LambdaFunction) -> dict[str, set[str]]:
    """API Gateway path -> the verbs `definition`'s function may use on it; a usage plan's id is written {plan}
    (so every plan must be granted alike)."""
    plan_ids = {logical_id: "{plan}" for logical_id, _ in usage_plans(stage).values()}
    granted: dict[str, set[str]] = {}
    for statement in policy_statements(stage, definition):
        actions = as_list(statement["Action"])
        if not any(action.startswith("apigateway:") for action in actions):
            continue
        verbs = {action.removeprefix("apigateway:") for action in actions}
        for resource in as_list(statement["Resource"]):
            arn = rendered(resource, plan_ids)
            assert arn.startswith(APIGATEWAY_ARN_PREFIX), arn
            granted.setdefault(arn.removeprefix(APIGATEWAY_ARN_PREFIX), set()).update(verbs)
    return granted


def apigateway_grant_count(stage: SynthesizedStage, definition: LambdaFunction) -> int:
    """How many usage plans' ARNs of `definition`'s statements name: each plan once per granted path."""
    plan_ids = {logical_id for logical_id, _ in usage_plans(stage).values()}
    return sum(
        json.dumps(statement["Resource"]).count(f'"{plan_id}"')
        for statement in policy_statements(stage, definition)
        for plan_id in plan_ids
    )


def test_each_plan_is_two_usage_plans_the_functions_find_by_their_names(dev_with_plans: SynthesizedStage) -> None:
    # Exactly these names: the functions look the usage plans up by `usage_plan_name` at run time.
    assert set(usage_plans(dev_with_plans)) == {
        "gatekey-dev-free",
        "gatekey-dev-team",
        "gatekey-dev-pro",
        "gatekey-dev-batch",
        "gatekey-dev-free.gatekey-api",
        "gatekey-dev-team.gatekey-api",
        "gatekey-dev-pro.gatekey-api",
        "gatekey-dev-batch.gatekey-api",
    }


@pytest.mark.parametrize("scope", [PROTECTED_APIS, GATEKEY_API])
@pytest.mark.parametrize("plan", EXPECTED_LIMITS)
def test_a_usage_plan_throttles_at_the_plans_rate_and_burst_and_counts_its_quota_from_the_calendars_start(
    dev_with_plans: SynthesizedStage, plan: str, scope: UsagePlanScope
) -> None:
    throttle, quota = EXPECTED_LIMITS[plan]
    _, usage_plan = usage_plans(dev_with_plans)[usage_plan_name("dev", plan, scope)]
    assert usage_plan["Throttle"] == throttle
    assert usage_plan.get("Quota") == quota


def covered_stages(usage_plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [(stage["ApiId"]["Ref"], stage["Stage"]["Ref"]) for stage in usage_plan["ApiStages"]]


def test_a_plans_usage_plans_cover_the_protected_api_and_gatekeys_own_api_apart(
    dev_with_plans: SynthesizedStage,
) -> None:
    # A customer over its quota on the provider's API can still sign in to the console and see its usage.
    management, store = management_api_id(dev_with_plans), store_api_id(dev_with_plans)
    for plan in EXPECTED_LIMITS:
        _, protected = usage_plans(dev_with_plans)[usage_plan_name("dev", plan, PROTECTED_APIS)]
        _, own = usage_plans(dev_with_plans)[usage_plan_name("dev", plan, GATEKEY_API)]
        assert covered_stages(protected) == [(store, stage_of(dev_with_plans, store)[0])], plan
        assert covered_stages(own) == [(management, stage_of(dev_with_plans, management)[0])], plan


def test_a_providers_second_api_joins_the_protected_usage_plans(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = write_config_with_plans(tmp_path_factory.mktemp("config-second-api"))

    def add_second_api(stack: GatekeyStack) -> object:
        api = apigateway.RestApi(stack, "SecondApi", rest_api_name="second-api")
        api.root.add_resource("things").add_method("GET", apigateway.MockIntegration())
        return stack.gatekey.protect(api)

    stage = synthesize(
        tmp_path_factory.mktemp("cdk-second-api"), stage="dev", config=str(config), add_to_stack=add_second_api
    )
    second, store = rest_api_id(stage, "second-api"), store_api_id(stage)
    for plan in EXPECTED_LIMITS:
        _, protected = usage_plans(stage)[usage_plan_name("dev", plan, PROTECTED_APIS)]
        assert sorted(covered_stages(protected)) == sorted(
            [(store, stage_of(stage, store)[0]), (second, stage_of(stage, second)[0])]
        ), plan
    assert stage.resources[second]["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    assert methods_by_route(stage, second)[("GET", "/things")]["ApiKeyRequired"] is True


def test_both_apis_take_the_api_key_from_the_authorizer(dev_with_plans: SynthesizedStage) -> None:
    for api_id in (management_api_id(dev_with_plans), store_api_id(dev_with_plans)):
        assert dev_with_plans.resources[api_id]["Properties"]["ApiKeySourceType"] == "AUTHORIZER"


def test_every_authorized_method_requires_an_api_key_and_no_public_one_does(dev_with_plans: SynthesizedStage) -> None:
    for api_id in (management_api_id(dev_with_plans), store_api_id(dev_with_plans)):
        methods = methods_by_route(dev_with_plans, api_id)
        authorized = {route for route, method in methods.items() if method["AuthorizationType"] == "CUSTOM"}
        assert authorized, api_id
        for route, method in methods.items():
            if route in authorized:
                assert method["ApiKeyRequired"] is True, route
            else:
                assert "ApiKeyRequired" not in method, route
    # Signing in and the console's pages are public on Gatekey's own API: nobody's key to count yet.
    management_methods = methods_by_route(dev_with_plans, management_api_id(dev_with_plans))
    assert "ApiKeyRequired" not in management_methods[("ANY", "/v1/sessions")]
    assert management_methods[("ANY", "/v1/{proxy+}")]["ApiKeyRequired"] is True


@pytest.mark.parametrize("stage_name", ["dev", "dev_with_plans"])
def test_over_the_rate_or_the_quota_both_apis_answer_429_in_gatekeys_json(
    stage_name: str, request: pytest.FixtureRequest
) -> None:
    stage: SynthesizedStage = request.getfixturevalue(stage_name)
    for api_id in (management_api_id(stage), store_api_id(stage)):
        responses = {
            response["Properties"]["ResponseType"]: response["Properties"]
            for response in stage.resources_of_type("AWS::ApiGateway::GatewayResponse").values()
            if response["Properties"]["RestApiId"] == {"Ref": api_id}
        }
        throttled, quota_exceeded = responses["THROTTLED"], responses["QUOTA_EXCEEDED"]
        assert (throttled["StatusCode"], quota_exceeded["StatusCode"]) == ("429", "429")
        assert json.loads(throttled["ResponseTemplates"]["application/json"]) == {"message": "Too Many Requests"}
        assert json.loads(quota_exceeded["ResponseTemplates"]["application/json"]) == {"message": "Limit Exceeded"}
        assert throttled["ResponseParameters"] == {
            "gatewayresponse.header.Content-Type": "'application/json'",
            "gatewayresponse.header.Gatekey-Version": f"'{API_VERSION}'",
            # A bucket refills within a second at any plan's rate.
            "gatewayresponse.header.Retry-After": "'1'",
        }
        # The quota's period may end days from now, which a fixed header cannot say.
        assert quota_exceeded["ResponseParameters"] == {
            "gatewayresponse.header.Content-Type": "'application/json'",
            "gatewayresponse.header.Gatekey-Version": f"'{API_VERSION}'",
        }


def test_the_management_api_may_manage_api_keys_and_this_stages_usage_plans_only(
    dev_with_plans: SynthesizedStage,
) -> None:
    assert apigateway_grants(dev_with_plans, MANAGEMENT_API) == MANAGEMENT_API_GRANTS
    # Every path naming a usage plan is granted for each of the stage's plans, and for no other usage plan.
    per_plan = sum("{plan}" in path for path in MANAGEMENT_API_GRANTS)
    assert (
        apigateway_grant_count(dev_with_plans, MANAGEMENT_API) == per_plan * len(EXPECTED_LIMITS) * USAGE_PLANS_PER_PLAN
    )


def test_the_scheduler_may_only_read_this_stages_usage_plans_and_their_usage(dev_with_plans: SynthesizedStage) -> None:
    assert apigateway_grants(dev_with_plans, SCHEDULER) == SCHEDULER_GRANTS
    per_plan = sum("{plan}" in path for path in SCHEDULER_GRANTS)
    assert apigateway_grant_count(dev_with_plans, SCHEDULER) == per_plan * len(EXPECTED_LIMITS) * USAGE_PLANS_PER_PLAN


@pytest.mark.parametrize(
    "definition",
    [definition for definition in GATEKEY_FUNCTIONS if definition not in (MANAGEMENT_API, SCHEDULER)],
    ids=lambda definition: definition.name,
)
def test_the_other_functions_the_authorizer_first_touch_no_api_key_or_usage_plan(
    dev_with_plans: SynthesizedStage, definition: LambdaFunction
) -> None:
    # The authorizer names a key in its answer (usageIdentifierKey), which needs no permission.
    assert apigateway_grants(dev_with_plans, definition) == {}


def test_the_construct_exposes_the_usage_plans_by_plan_name(dev_with_plans: SynthesizedStage) -> None:
    gatekey = dev_with_plans.stack.gatekey
    for scope, exposed in ((PROTECTED_APIS, gatekey.usage_plans), (GATEKEY_API, gatekey.gatekey_api_usage_plans)):
        assert set(exposed) == set(EXPECTED_LIMITS)
        for plan, usage_plan in exposed.items():
            logical_id, _ = usage_plans(dev_with_plans)[usage_plan_name("dev", plan, scope)]
            assert dev_with_plans.stack.resolve(usage_plan.usage_plan_id) == {"Ref": logical_id}


def test_adding_plans_deploys_both_apis_again(dev: SynthesizedStage, dev_with_plans: SynthesizedStage) -> None:
    # The two stacks differ only by the plans; a stage keeps serving its old deployment unless it is replaced.
    for api_id in (management_api_id(dev), store_api_id(dev)):
        assert deployment_of(dev, api_id) != deployment_of(dev_with_plans, api_id)


@pytest.mark.parametrize("stage_name", ["dev", "prod", "dev_with_authorizer_cache"])
def test_without_plans_there_are_no_usage_plans_and_no_api_keys(
    stage_name: str, request: pytest.FixtureRequest
) -> None:
    stage: SynthesizedStage = request.getfixturevalue(stage_name)
    assert stage.resources_of_type("AWS::ApiGateway::UsagePlan") == {}
    assert stage.stack.gatekey.usage_plans == stage.stack.gatekey.gatekey_api_usage_plans == {}
    for api_id in (management_api_id(stage), store_api_id(stage)):
        assert "ApiKeySourceType" not in stage.resources[api_id]["Properties"]
        for route, method in methods_by_route(stage, api_id).items():
            assert "ApiKeyRequired" not in method, route
    for definition in GATEKEY_FUNCTIONS:
        assert apigateway_grants(stage, definition) == {}, definition.name
