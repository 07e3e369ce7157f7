"""The synthesized REST API: ROUTES and their authorization, the authorizer cache, gateway responses, logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stack_synthesis import CACHED_AUTHORIZER_TTL_SECONDS, SynthesizedStage, function_resource

from gatekey.access_log import ACCESS_LOG_FORMAT
from gatekey.api_gateway import (
    AUTHORIZER_CACHE_IDENTITY_SOURCES,
    GATEWAY_RESPONSES,
    LOG_INGEST,
    ROUTES,
    GatewayResponse,
)
from gatekey.settings import API_VERSION, STAGES

PUBLIC_ROUTES = {("GET", "/health"), ("GET", "/v1/openapi.json")}


def resource_path(stage: SynthesizedStage, resource_ref: dict[str, Any]) -> str:
    """The URL path of an API Gateway resource, rebuilt from its chain of PathParts up to the API root."""
    if "Fn::GetAtt" in resource_ref:  # the API's root resource
        return ""
    properties = stage.resources[resource_ref["Ref"]]["Properties"]
    return f"{resource_path(stage, properties['ParentId'])}/{properties['PathPart']}"


def methods_by_route(stage: SynthesizedStage) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method["Properties"]["HttpMethod"], resource_path(stage, method["Properties"]["ResourceId"])): method[
            "Properties"
        ]
        for method in stage.resources_of_type("AWS::ApiGateway::Method").values()
    }


def handler_of_integration(stage: SynthesizedStage, method: dict[str, Any]) -> str:
    integration_uri = json.dumps(method["Integration"]["Uri"])
    (handler,) = [
        function["Properties"]["Handler"]
        for name, function in stage.resources_of_type("AWS::Lambda::Function").items()
        if f'"{name}"' in integration_uri
    ]
    return handler


def only_authorizer(stage: SynthesizedStage) -> tuple[str, dict[str, Any]]:
    ((name, authorizer),) = stage.resources_of_type("AWS::ApiGateway::Authorizer").items()
    return name, authorizer["Properties"]


def only_stage(stage: SynthesizedStage) -> dict[str, Any]:
    (api_stage,) = stage.resources_of_type("AWS::ApiGateway::Stage").values()
    properties: dict[str, Any] = api_stage["Properties"]
    return properties


def test_the_api_has_exactly_the_methods_of_routes(dev: SynthesizedStage) -> None:
    assert set(methods_by_route(dev)) == {(route.method, route.path) for route in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_each_route_proxies_to_its_function(dev: SynthesizedStage, route: Any) -> None:
    method = methods_by_route(dev)[(route.method, route.path)]
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert handler_of_integration(dev, method) == route.function.handler


def test_only_health_and_openapi_are_public_and_every_other_method_uses_the_request_authorizer(
    every_stage: SynthesizedStage,
) -> None:
    authorizer_id, authorizer = only_authorizer(every_stage)
    assert authorizer["Type"] == "REQUEST"
    for route, method in methods_by_route(every_stage).items():
        if route in PUBLIC_ROUTES:
            assert method["AuthorizationType"] == "NONE", route
            assert "AuthorizerId" not in method, route
        else:
            assert method["AuthorizationType"] == "CUSTOM", route
            assert method["AuthorizerId"] == {"Ref": authorizer_id}, route


def test_the_authorizer_runs_the_authorizer_function(dev: SynthesizedStage) -> None:
    _, authorizer = only_authorizer(dev)
    uri = json.dumps(authorizer["AuthorizerUri"])
    (function_id,) = [
        name
        for name, function in dev.resources_of_type("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == "gatekey.handlers.authorizer.lambda_handler"
    ]
    assert f'"{function_id}"' in uri


def test_dev_does_not_cache_authorizer_results_so_revocation_is_immediate(dev: SynthesizedStage) -> None:
    _, authorizer = only_authorizer(dev)
    assert STAGES["dev"].authorizer_cache_ttl_seconds == 0
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0
    # No identity source: API Gateway calls the authorizer even for requests without Authorization (HMAC).
    assert "IdentitySource" not in authorizer


def test_a_cache_ttl_override_caches_results_keyed_on_the_identity_sources(
    dev_with_authorizer_cache: SynthesizedStage,
) -> None:
    _, authorizer = only_authorizer(dev_with_authorizer_cache)
    assert authorizer["AuthorizerResultTtlInSeconds"] == CACHED_AUTHORIZER_TTL_SECONDS
    assert authorizer["IdentitySource"] == ",".join(AUTHORIZER_CACHE_IDENTITY_SOURCES)


@pytest.mark.parametrize("response", GATEWAY_RESPONSES, ids=lambda response: response.response_type)
def test_gateway_responses_answer_with_json_and_the_api_version_header(
    dev: SynthesizedStage, response: GatewayResponse
) -> None:
    dev.template.has_resource_properties(
        "AWS::ApiGateway::GatewayResponse",
        {
            "ResponseType": response.response_type,
            "StatusCode": str(response.status_code),
            "ResponseTemplates": {"application/json": response.body},
            "ResponseParameters": {
                "gatewayresponse.header.Gatekey-Version": f"'{API_VERSION}'",
                "gatewayresponse.header.Content-Type": "'application/json'",
            },
        },
    )


def test_unauthorized_and_forbidden_bodies_are_the_documented_messages(dev: SynthesizedStage) -> None:
    bodies = {
        response["Properties"]["StatusCode"]: json.loads(
            response["Properties"]["ResponseTemplates"]["application/json"]
        )
        for response in dev.resources_of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert bodies["401"] == {"message": "Unauthorized"}
    assert bodies["403"] == {"message": "Forbidden"}


def access_log_group_id(stage: SynthesizedStage) -> str:
    log_group_id: str = only_stage(stage)["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    return log_group_id


def test_every_request_is_access_logged_as_json_for_thirty_days(every_stage: SynthesizedStage) -> None:
    access_log = only_stage(every_stage)["AccessLogSetting"]
    # The very format the log-ingest function parses and the local gateway writes.
    assert json.loads(access_log["Format"]) == ACCESS_LOG_FORMAT
    log_group = every_stage.resources[access_log_group_id(every_stage)]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == 30


def test_every_access_log_line_is_sent_to_the_log_ingest_function(every_stage: SynthesizedStage) -> None:
    # One filter in the whole stack: the log-ingest function's own log group does not feed back into it.
    (subscription,) = every_stage.resources_of_type("AWS::Logs::SubscriptionFilter").values()
    log_ingest_id = function_resource(every_stage, LOG_INGEST)[0]
    assert subscription["Properties"] == {
        "LogGroupName": {"Ref": access_log_group_id(every_stage)},
        "FilterPattern": "",
        "DestinationArn": {"Fn::GetAtt": [log_ingest_id, "Arn"]},
    }


def test_cloudwatch_logs_may_invoke_log_ingest_for_the_access_log_group_before_the_filter_exists(
    every_stage: SynthesizedStage,
) -> None:
    log_ingest_id = function_resource(every_stage, LOG_INGEST)[0]
    (permission_id,) = [
        name
        for name, permission in every_stage.resources_of_type("AWS::Lambda::Permission").items()
        if permission["Properties"]["Principal"] == "logs.amazonaws.com"
    ]
    assert every_stage.resources[permission_id]["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": [log_ingest_id, "Arn"]},
        "Principal": "logs.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [access_log_group_id(every_stage), "Arn"]},
    }
    # CloudWatch Logs tests the destination when the filter is created; without the permission that fails.
    (subscription,) = every_stage.resources_of_type("AWS::Logs::SubscriptionFilter").values()
    assert permission_id in subscription["DependsOn"]


def test_the_stage_traces_requests_and_keeps_its_execution_logs_thirty_days(every_stage: SynthesizedStage) -> None:
    api_stage = only_stage(every_stage)
    assert api_stage["TracingEnabled"] is True
    assert api_stage["StageName"] == every_stage.stack.settings.stage
    (method_settings,) = api_stage["MethodSettings"]
    assert method_settings["LoggingLevel"] == "ERROR"
    assert method_settings["DataTraceEnabled"] is False
    (execution_logs,) = [
        log_group["Properties"]
        for log_group in every_stage.resources_of_type("AWS::Logs::LogGroup").values()
        if "API-Gateway-Execution-Logs_" in json.dumps(log_group["Properties"].get("LogGroupName"))
    ]
    assert execution_logs["RetentionInDays"] == 30
