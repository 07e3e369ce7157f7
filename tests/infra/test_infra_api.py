"""The synthesized REST API: ROUTES and their authorization, the authorizer cache, gateway responses, logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stack_synthesis import CACHED_AUTHORIZER_TTL_SECONDS, SynthesizedStage

from gatekey.api_gateway import AUTHORIZER_CACHE_IDENTITY_SOURCES, GATEWAY_RESPONSES, ROUTES, GatewayResponse
from gatekey.settings import API_VERSION, STAGES

PUBLIC_ROUTES = {("GET", "/health"), ("GET", "/v1/openapi.json")}
# The request-log fields the log-ingest function reads from each access-log line.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "responseLatency": "$context.responseLatency",
    "userAgent": "$context.identity.userAgent",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "keyId": "$context.authorizer.keyId",
    "orgId": "$context.authorizer.orgId",
}


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


def test_every_request_is_access_logged_as_json_for_thirty_days(every_stage: SynthesizedStage) -> None:
    access_log = only_stage(every_stage)["AccessLogSetting"]
    assert ACCESS_LOG_FIELDS.items() <= json.loads(access_log["Format"]).items()
    log_group_id = access_log["DestinationArn"]["Fn::GetAtt"][0]
    assert every_stage.resources[log_group_id]["Properties"]["RetentionInDays"] == 30


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
