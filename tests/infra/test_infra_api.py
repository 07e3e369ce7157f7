"""The synthesized REST APIs, Gatekey's and the demo store's: routes and their authorization, the authorizer cache,
gateway responses, access logs fed to log ingest, and each stage's throttling."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from stack_synthesis import (
    CACHED_AUTHORIZER_TTL_SECONDS,
    SynthesizedStage,
    function_resource,
    management_api_id,
    methods_by_route,
    stage_of,
    store_api_id,
)

from gatekey.access_log import ACCESS_LOG_FORMAT
from gatekey.api_gateway import (
    AUTHORIZER,
    AUTHORIZER_CACHE_IDENTITY_SOURCES,
    GATEKEY_ROUTES,
    GATEWAY_RESPONSES,
    LOG_INGEST,
    MANAGEMENT_API,
    ROUTES,
    STORE_DEMO_ROUTE,
    GatewayResponse,
)
from gatekey.settings import API_VERSION, STAGES

PUBLIC_ROUTES = {(route.method, route.path) for route in GATEKEY_ROUTES if not route.authorized}


def handler_of_integration(stage: SynthesizedStage, method: dict[str, Any]) -> str:
    integration_uri = json.dumps(method["Integration"]["Uri"])
    (handler,) = [
        function["Properties"]["Handler"]
        for name, function in stage.resources_of_type("AWS::Lambda::Function").items()
        if f'"{name}"' in integration_uri
    ]
    return handler


def authorizer_of(stage: SynthesizedStage, api_id: str) -> tuple[str, dict[str, Any]]:
    """The one authorizer of the API `api_id`."""
    ((name, authorizer),) = [
        (name, authorizer["Properties"])
        for name, authorizer in stage.resources_of_type("AWS::ApiGateway::Authorizer").items()
        if authorizer["Properties"]["RestApiId"] == {"Ref": api_id}
    ]
    return name, authorizer


def every_api(stage: SynthesizedStage) -> list[str]:
    return [management_api_id(stage), store_api_id(stage)]


def test_the_apis_have_exactly_the_methods_of_their_routes(dev: SynthesizedStage) -> None:
    assert set(methods_by_route(dev, management_api_id(dev))) == {
        (route.method, route.path) for route in GATEKEY_ROUTES
    }
    assert set(methods_by_route(dev, store_api_id(dev))) == {(STORE_DEMO_ROUTE.method, STORE_DEMO_ROUTE.path)}
    dev.template.resource_count_is("AWS::ApiGateway::RestApi", 2)


def test_health_openapi_sign_in_invitations_and_the_console_pages_need_no_credentials(
    every_stage: SynthesizedStage,
) -> None:
    # An API Gateway GET method does not answer HEAD (DESIGN §7: every GET also answers HEAD): each is a method.
    readable = ("/health", "/v1/openapi.json", "/dashboard", "/dashboard/{proxy+}")
    # Signing in and accepting an invitation: ANY, so the API itself answers other methods 405 with Allow.
    console_way_in = {("ANY", "/v1/sessions"), ("ANY", "/v1/invitations/accept")}
    assert {(verb, path) for verb in ("GET", "HEAD") for path in readable} | console_way_in == PUBLIC_ROUTES
    methods = methods_by_route(every_stage, management_api_id(every_stage))
    for route in PUBLIC_ROUTES:
        assert methods[route]["AuthorizationType"] == "NONE", route
        assert handler_of_integration(every_stage, methods[route]) == MANAGEMENT_API.handler


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_each_route_proxies_to_its_function(dev: SynthesizedStage, route: Any) -> None:
    method = methods_by_route(dev)[(route.method, route.path)]
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert handler_of_integration(dev, method) == route.function.handler


def test_only_health_and_openapi_are_public_and_every_other_method_uses_its_apis_request_authorizer(
    every_stage: SynthesizedStage,
) -> None:
    for api_id in every_api(every_stage):
        authorizer_id, authorizer = authorizer_of(every_stage, api_id)
        assert authorizer["Type"] == "REQUEST"
        for route, method in methods_by_route(every_stage, api_id).items():
            if route in PUBLIC_ROUTES:
                assert method["AuthorizationType"] == "NONE", route
                assert "AuthorizerId" not in method, route
            else:
                assert method["AuthorizationType"] == "CUSTOM", route
                assert method["AuthorizerId"] == {"Ref": authorizer_id}, route


def test_every_authorizer_runs_the_authorizer_function(dev: SynthesizedStage) -> None:
    authorizer_function_id = function_resource(dev, AUTHORIZER)[0]
    for api_id in every_api(dev):
        _, authorizer = authorizer_of(dev, api_id)
        assert f'"{authorizer_function_id}"' in json.dumps(authorizer["AuthorizerUri"])


def test_api_gateway_may_invoke_the_authorizer_function_only_as_each_apis_authorizer(dev: SynthesizedStage) -> None:
    authorizer_function_id = function_resource(dev, AUTHORIZER)[0]
    permissions = [
        permission["Properties"]
        for permission in dev.resources_of_type("AWS::Lambda::Permission").values()
        if permission["Properties"]["FunctionName"] == {"Fn::GetAtt": [authorizer_function_id, "Arn"]}
    ]
    assert len(permissions) == 2
    for api_id in every_api(dev):
        authorizer_id, _ = authorizer_of(dev, api_id)
        (permission,) = [permission for permission in permissions if f'"{api_id}"' in json.dumps(permission)]
        assert permission["Principal"] == "apigateway.amazonaws.com"
        source_arn = json.dumps(permission["SourceArn"])
        assert f'"/authorizers/", {{"Ref": "{authorizer_id}"}}' in source_arn


def test_dev_does_not_cache_authorizer_results_so_revocation_is_immediate(dev: SynthesizedStage) -> None:
    assert STAGES["dev"].authorizer_cache_ttl_seconds == 0
    for api_id in every_api(dev):
        _, authorizer = authorizer_of(dev, api_id)
        assert authorizer["AuthorizerResultTtlInSeconds"] == 0
        # No identity source: API Gateway calls the authorizer even for requests without Authorization (HMAC).
        assert "IdentitySource" not in authorizer


def test_a_cache_ttl_override_caches_the_protected_apis_results_keyed_on_the_identity_sources(
    dev_with_authorizer_cache: SynthesizedStage,
) -> None:
    _, authorizer = authorizer_of(dev_with_authorizer_cache, store_api_id(dev_with_authorizer_cache))
    assert authorizer["AuthorizerResultTtlInSeconds"] == CACHED_AUTHORIZER_TTL_SECONDS
    assert authorizer["IdentitySource"] == ",".join(AUTHORIZER_CACHE_IDENTITY_SOURCES)


def test_gatekeys_own_api_never_caches_so_console_sessions_are_answered_each_as_itself(
    dev_with_authorizer_cache: SynthesizedStage,
) -> None:
    """A console request carries a cookie, not the Authorization header a cache would be keyed on."""
    _, authorizer = authorizer_of(dev_with_authorizer_cache, management_api_id(dev_with_authorizer_cache))
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0
    assert "IdentitySource" not in authorizer


def test_a_change_to_the_authorizer_deploys_the_api_again(
    dev: SynthesizedStage, dev_with_authorizer_cache: SynthesizedStage
) -> None:
    # A stage serves a deployment, a snapshot: unless the deployment is replaced, it keeps the old settings.
    def deployment(stage: SynthesizedStage, api_id: str) -> str:
        (name,) = [
            name
            for name, resource in stage.resources_of_type("AWS::ApiGateway::Deployment").items()
            if resource["Properties"]["RestApiId"] == {"Ref": api_id}
        ]
        return name

    assert len(dev.resources_of_type("AWS::ApiGateway::Deployment")) == 2
    assert deployment(dev, store_api_id(dev)) != deployment(
        dev_with_authorizer_cache, store_api_id(dev_with_authorizer_cache)
    )
    # The management API's authorizer is the same in both (uncached), so its deployment stays.
    assert deployment(dev, management_api_id(dev)) == deployment(
        dev_with_authorizer_cache, management_api_id(dev_with_authorizer_cache)
    )


@pytest.mark.parametrize("response", GATEWAY_RESPONSES, ids=lambda response: response.response_type)
def test_gateway_responses_answer_with_json_and_the_api_version_header(
    every_stage: SynthesizedStage, response: GatewayResponse
) -> None:
    for api_id in every_api(every_stage):
        every_stage.template.has_resource_properties(
            "AWS::ApiGateway::GatewayResponse",
            {
                "RestApiId": {"Ref": api_id},
                "ResponseType": response.response_type,
                # The DEFAULT_* responses keep the status API Gateway chose: no StatusCode at all.
                "StatusCode": Match.absent() if response.status_code is None else str(response.status_code),
                "ResponseTemplates": {"application/json": response.body},
                "ResponseParameters": {
                    "gatewayresponse.header.Gatekey-Version": f"'{API_VERSION}'",
                    "gatewayresponse.header.Content-Type": "'application/json'",
                },
            },
        )


def test_every_api_has_every_gateway_response_once_and_no_other(every_stage: SynthesizedStage) -> None:
    for api_id in every_api(every_stage):
        types = [
            response["Properties"]["ResponseType"]
            for response in every_stage.resources_of_type("AWS::ApiGateway::GatewayResponse").values()
            if response["Properties"]["RestApiId"] == {"Ref": api_id}
        ]
        assert sorted(types) == sorted(response.response_type for response in GATEWAY_RESPONSES)


def test_fixed_gateway_bodies_are_the_documented_messages_and_the_defaults_pass_api_gateways_on(
    dev: SynthesizedStage,
) -> None:
    bodies = {
        response["Properties"]["ResponseType"]: response["Properties"]["ResponseTemplates"]["application/json"]
        for response in dev.resources_of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert json.loads(bodies["UNAUTHORIZED"]) == {"message": "Unauthorized"}
    assert json.loads(bodies["ACCESS_DENIED"]) == {"message": "Forbidden"}
    assert json.loads(bodies["THROTTLED"]) == {"message": "Too Many Requests"}
    assert json.loads(bodies["REQUEST_TOO_LARGE"]) == {"message": "Request Too Long"}
    # API Gateway's own message, which $context.error.messageString gives already quoted as a JSON string.
    for default in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert bodies[default] == '{"message": $context.error.messageString}'


def access_log_group_id(stage: SynthesizedStage, api_id: str) -> str:
    log_group_id: str = stage_of(stage, api_id)[1]["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    return log_group_id


def test_every_request_is_access_logged_as_json_for_thirty_days(every_stage: SynthesizedStage) -> None:
    for api_id in every_api(every_stage):
        access_log = stage_of(every_stage, api_id)[1]["AccessLogSetting"]
        # The very format the log-ingest function parses and the local gateway writes.
        assert json.loads(access_log["Format"]) == ACCESS_LOG_FORMAT
        log_group = every_stage.resources[access_log_group_id(every_stage, api_id)]
        assert log_group["Type"] == "AWS::Logs::LogGroup"
        assert log_group["Properties"]["RetentionInDays"] == 30


def test_every_access_log_line_is_sent_to_the_log_ingest_function(every_stage: SynthesizedStage) -> None:
    log_ingest_id = function_resource(every_stage, LOG_INGEST)[0]
    subscriptions = [
        subscription["Properties"]
        for subscription in every_stage.resources_of_type("AWS::Logs::SubscriptionFilter").values()
    ]
    # One filter per API's access log and no other: the log-ingest function's own log group does not feed back.
    assert sorted(subscriptions, key=json.dumps) == sorted(
        (
            {
                "LogGroupName": {"Ref": access_log_group_id(every_stage, api_id)},
                "FilterPattern": "",
                "DestinationArn": {"Fn::GetAtt": [log_ingest_id, "Arn"]},
            }
            for api_id in every_api(every_stage)
        ),
        key=json.dumps,
    )


def test_cloudwatch_logs_may_invoke_log_ingest_for_the_access_log_groups_before_their_filters_exist(
    every_stage: SynthesizedStage,
) -> None:
    log_ingest_id = function_resource(every_stage, LOG_INGEST)[0]
    for api_id in every_api(every_stage):
        log_group_arn = {"Fn::GetAtt": [access_log_group_id(every_stage, api_id), "Arn"]}
        (permission_id,) = [
            name
            for name, permission in every_stage.resources_of_type("AWS::Lambda::Permission").items()
            if permission["Properties"]["Principal"] == "logs.amazonaws.com"
            and permission["Properties"]["SourceArn"] == log_group_arn
        ]
        assert every_stage.resources[permission_id]["Properties"] == {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [log_ingest_id, "Arn"]},
            "Principal": "logs.amazonaws.com",
            "SourceArn": log_group_arn,
        }
        # CloudWatch Logs tests the destination when the filter is created; without the permission that fails.
        (subscription,) = [
            subscription
            for subscription in every_stage.resources_of_type("AWS::Logs::SubscriptionFilter").values()
            if subscription["Properties"]["LogGroupName"] == {"Ref": access_log_group_id(every_stage, api_id)}
        ]
        assert permission_id in subscription["DependsOn"]


def test_each_stage_traces_requests_and_keeps_its_execution_logs_thirty_days(every_stage: SynthesizedStage) -> None:
    execution_logs = [
        log_group["Properties"]
        for log_group in every_stage.resources_of_type("AWS::Logs::LogGroup").values()
        if "API-Gateway-Execution-Logs_" in json.dumps(log_group["Properties"].get("LogGroupName"))
    ]
    assert len(execution_logs) == 2
    for api_id in every_api(every_stage):
        _, api_stage = stage_of(every_stage, api_id)
        assert api_stage["TracingEnabled"] is True
        assert api_stage["StageName"] == every_stage.stack.settings.stage
        (method_settings,) = api_stage["MethodSettings"]
        assert method_settings["LoggingLevel"] == "ERROR"
        assert method_settings["DataTraceEnabled"] is False
        (group,) = [group for group in execution_logs if f'"{api_id}"' in json.dumps(group["LogGroupName"])]
        assert group["RetentionInDays"] == 30


def test_every_stage_waits_for_the_accounts_api_gateway_logging_role(every_stage: SynthesizedStage) -> None:
    # Without the account's CloudWatch role, API Gateway refuses a stage that logs.
    (account_id,) = every_stage.resources_of_type("AWS::ApiGateway::Account")
    for api_id in every_api(every_stage):
        stage_id, _ = stage_of(every_stage, api_id)
        assert account_id in every_stage.resources[stage_id]["DependsOn"]


@pytest.mark.parametrize("stage_name", ["dev", "prod"])
def test_every_method_of_each_stage_is_throttled_at_the_stage_rate_and_burst(
    stage_name: str, request: pytest.FixtureRequest
) -> None:
    stage: SynthesizedStage = request.getfixturevalue(stage_name)
    settings = STAGES[stage_name]
    for api_id in every_api(stage):
        (method_settings,) = stage_of(stage, api_id)[1]["MethodSettings"]
        assert (method_settings["HttpMethod"], method_settings["ResourcePath"]) == ("*", "/*")
        assert method_settings["ThrottlingRateLimit"] == settings.throttle_rate_per_second
        assert method_settings["ThrottlingBurstLimit"] == settings.throttle_burst
    # The stages differ: a prod flood is bounded too, but well above what dev takes.
    assert STAGES["prod"].throttle_rate_per_second > STAGES["dev"].throttle_rate_per_second
