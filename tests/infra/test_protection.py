"""`Gatekey.protect` on APIs the example does not cover: HTTP backends, public routes matched by shape, a stage's
own throttling, alarms notifying a topic, and the APIs it refuses to protect (they would be deployed with a hole or
without Gatekey's access log)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from gatekey.api_gateway import CALLER_HEADERS
from gatekey.cdk import ApiProtection, ConfigurationError, Gatekey, ProtectionError, StageSelectionError
from gatekey.settings import STAGES

FILES_CONFIG = """
[permissions]
files = "write"
reports = "read"

[[routes]]
method = "GET"
path = "/files/{path+}"
public = true
"""
FILES_BACKEND = "https://files.example.com/{key}"
CALLER_HEADER_MAPPINGS = {
    f"integration.request.header.{header}": f"context.authorizer.{context_key}"
    for header, context_key in CALLER_HEADERS.items()
}


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One output directory for every app here: a bundle already staged there is not copied again."""
    return tmp_path_factory.mktemp("protection-cdk-out")


def files_integration() -> apigateway.HttpIntegration:
    return apigateway.HttpIntegration(
        FILES_BACKEND,
        proxy=True,
        options=apigateway.IntegrationOptions(
            request_parameters={"integration.request.path.key": "method.request.path.key"}
        ),
    )


def protected_api(
    tmp_path: Path,
    assembly_dir: Path,
    add_methods: Callable[[apigateway.RestApi], object],
    *,
    config: str = FILES_CONFIG,
    alarm_topic_name: str | None = None,
    **api_options: Any,
) -> tuple[Stack, apigateway.RestApi]:
    """A provider's stack: Gatekey with `config` (and an alarm topic if named), a REST API with the methods
    `add_methods` adds, protected."""
    config_file = tmp_path / "gatekey.toml"
    config_file.write_text(config)
    stack = Stack(App(outdir=str(assembly_dir)), "Files")
    alarm_topic = sns.Topic(stack, "Alarms", topic_name=alarm_topic_name) if alarm_topic_name else None
    gatekey = Gatekey(stack, "Gatekey", stage="dev", config=config_file, alarm_topic=alarm_topic)
    api = apigateway.RestApi(stack, "FilesApi", cloud_watch_role=False, **api_options)
    add_methods(api)
    gatekey.protect(api)
    return stack, api


def add_files_methods(api: apigateway.RestApi) -> None:
    files = api.root.add_resource("files").add_resource("{key+}")
    for verb in ("GET", "PUT"):
        files.add_method(verb, files_integration(), request_parameters={"method.request.path.key": True})
    reports = api.root.add_resource("reports")
    reports.add_method(
        "GET",
        apigateway.MockIntegration(request_templates={"application/json": '{"statusCode": 200}'}),
    )


@pytest.fixture(scope="session")
def files_template(tmp_path_factory: pytest.TempPathFactory, assembly_dir: Path) -> dict[str, Any]:
    stack, _ = protected_api(tmp_path_factory.mktemp("files"), assembly_dir, add_files_methods)
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


def files_stage_method_settings(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The MethodSettings of the files API's stage (not of Gatekey's management API)."""
    (files_api_id,) = [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ApiGateway::RestApi" and resource["Properties"]["Name"] == "FilesApi"
    ]
    (stage,) = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ApiGateway::Stage" and resource["Properties"]["RestApiId"] == {"Ref": files_api_id}
    ]
    settings: list[dict[str, Any]] = stage.get("MethodSettings", [])
    return settings


def method(template: dict[str, Any], verb: str, path_part: str) -> dict[str, Any]:
    (properties,) = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ApiGateway::Method"
        and resource["Properties"]["HttpMethod"] == verb
        and template["Resources"][resource["Properties"]["ResourceId"]["Ref"]]["Properties"]["PathPart"] == path_part
    ]
    return properties


def test_an_http_backend_learns_the_caller_only_from_the_authorizer_context(files_template: dict[str, Any]) -> None:
    put = method(files_template, "PUT", "{key+}")
    assert put["AuthorizationType"] == "CUSTOM"
    parameters = put["Integration"]["RequestParameters"]
    # Each caller header is set from the authorizer's context, replacing whatever the client sent under its name.
    assert CALLER_HEADER_MAPPINGS.items() <= parameters.items()
    # The provider's own mappings stay.
    assert parameters["integration.request.path.key"] == "method.request.path.key"


def test_a_public_route_matches_the_apis_resource_by_its_shape(files_template: dict[str, Any]) -> None:
    # gatekey.toml says GET /files/{path+}; the API names its parameter {key+}: the same route.
    get = method(files_template, "GET", "{key+}")
    assert get["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in get
    # Public or not, a client's own Gatekey-* headers never reach the backend.
    assert CALLER_HEADER_MAPPINGS.items() <= get["Integration"]["RequestParameters"].items()


def test_a_mock_or_lambda_integration_gets_no_caller_headers(files_template: dict[str, Any]) -> None:
    reports = method(files_template, "GET", "reports")
    assert reports["AuthorizationType"] == "CUSTOM"
    assert "RequestParameters" not in reports["Integration"]


def test_a_public_route_that_only_an_any_method_serves_is_refused(tmp_path: Path, assembly_dir: Path) -> None:
    def any_method(api: apigateway.RestApi) -> None:
        api.root.add_resource("files").add_resource("{key+}").add_method("ANY", files_integration())

    with pytest.raises(ConfigurationError, match=r"public route GET /files/\{path\+\}: only an ANY method serves"):
        protected_api(tmp_path, assembly_dir, any_method)


def test_a_public_route_whose_verb_the_api_lacks_is_refused(tmp_path: Path, assembly_dir: Path) -> None:
    def put_only(api: apigateway.RestApi) -> None:
        api.root.add_resource("files").add_resource("{key+}").add_method("PUT", files_integration())

    with pytest.raises(ConfigurationError, match=r"public route GET /files/\{path\+\}: .* has no GET method"):
        protected_api(tmp_path, assembly_dir, put_only)


def test_a_public_any_route_makes_every_method_of_its_resource_public(tmp_path: Path, assembly_dir: Path) -> None:
    config = FILES_CONFIG.replace('method = "GET"', 'method = "ANY"')
    stack, _ = protected_api(tmp_path, assembly_dir, add_files_methods, config=config)
    template = Template.from_stack(stack).to_json()
    assert method(template, "GET", "{key+}")["AuthorizationType"] == "NONE"
    assert method(template, "PUT", "{key+}")["AuthorizationType"] == "NONE"
    assert method(template, "GET", "reports")["AuthorizationType"] == "CUSTOM"


def test_protecting_an_api_before_its_methods_exist_is_refused(tmp_path: Path, assembly_dir: Path) -> None:
    with pytest.raises(ProtectionError, match="call protect\\(\\) after adding them"):
        protected_api(tmp_path, assembly_dir, lambda api: api.root.add_resource("files"), config="")


def test_an_api_with_an_access_log_of_its_own_is_refused(tmp_path: Path, assembly_dir: Path) -> None:
    def with_access_log(api: apigateway.RestApi) -> None:
        add_files_methods(api)
        stage = cast(apigateway.CfnStage, api.deployment_stage.node.default_child)
        stage.access_log_setting = apigateway.CfnStage.AccessLogSettingProperty(
            destination_arn="arn:aws:logs:eu-west-1:123456789012:log-group:files-access", format="$context.requestId"
        )

    # Gatekey's log ingest reads only its own format: the provider's log would be replaced, or ingest would fail.
    with pytest.raises(ProtectionError, match="already has an access log"):
        protected_api(tmp_path, assembly_dir, with_access_log)


def test_an_api_without_a_stage_is_refused(tmp_path: Path, assembly_dir: Path) -> None:
    with pytest.raises(ProtectionError, match="deploy=False"):
        protected_api(tmp_path, assembly_dir, add_files_methods, deploy=False)


def test_a_stage_gatekey_cannot_deploy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StageSelectionError, match="Gatekey deploys dev or prod"):
        Gatekey(Stack(App(outdir=str(tmp_path)), "Files"), "Gatekey", stage="staging")


def test_protecting_an_api_twice_is_refused(tmp_path: Path, assembly_dir: Path) -> None:
    stack, api = protected_api(tmp_path, assembly_dir, add_files_methods)
    (gatekey,) = [child for child in stack.node.children if isinstance(child, Gatekey)]
    with pytest.raises(ProtectionError, match="protected by Gatekey already"):
        gatekey.protect(api)


DEV_THROTTLING = {
    "ThrottlingRateLimit": STAGES["dev"].throttle_rate_per_second,
    "ThrottlingBurstLimit": STAGES["dev"].throttle_burst,
}


def test_a_stage_without_method_settings_gets_gatekeys_throttling_for_every_method(
    files_template: dict[str, Any],
) -> None:
    assert files_stage_method_settings(files_template) == [{"HttpMethod": "*", "ResourcePath": "/*", **DEV_THROTTLING}]


def test_a_stage_that_throttles_every_method_itself_keeps_its_own_throttling(
    tmp_path: Path, assembly_dir: Path
) -> None:
    stack, api = protected_api(
        tmp_path,
        assembly_dir,
        add_files_methods,
        deploy_options=apigateway.StageOptions(
            metrics_enabled=True, throttling_rate_limit=7, throttling_burst_limit=11
        ),
    )
    assert files_stage_method_settings(Template.from_stack(stack).to_json()) == [
        {
            "HttpMethod": "*",
            "ResourcePath": "/*",
            "MetricsEnabled": True,
            "DataTraceEnabled": False,
            "ThrottlingRateLimit": 7,
            "ThrottlingBurstLimit": 11,
        }
    ]
    protection = api.node.find_child("Gatekey")
    assert isinstance(protection, ApiProtection)
    assert protection.throttled_by_gatekey is False


def test_a_stage_that_sets_only_a_burst_for_every_method_keeps_it_alone(tmp_path: Path, assembly_dir: Path) -> None:
    stack, _ = protected_api(
        tmp_path, assembly_dir, add_files_methods, deploy_options=apigateway.StageOptions(throttling_burst_limit=3)
    )
    (every_method,) = files_stage_method_settings(Template.from_stack(stack).to_json())
    assert every_method["ThrottlingBurstLimit"] == 3
    assert "ThrottlingRateLimit" not in every_method


def test_a_stage_with_other_settings_for_every_method_gets_gatekeys_throttling_beside_them(
    tmp_path: Path, assembly_dir: Path
) -> None:
    # Logging and metrics for every method, and throttling for one: that method's own limit stays (API Gateway
    # applies it over the stage-wide one), and every other method gets Gatekey's.
    stack, _ = protected_api(
        tmp_path,
        assembly_dir,
        add_files_methods,
        deploy_options=apigateway.StageOptions(
            logging_level=apigateway.MethodLoggingLevel.ERROR,
            method_options={"/reports/GET": apigateway.MethodDeploymentOptions(throttling_rate_limit=2)},
        ),
    )
    every_method, reports = files_stage_method_settings(Template.from_stack(stack).to_json())
    assert every_method == {
        "HttpMethod": "*",
        "ResourcePath": "/*",
        "LoggingLevel": "ERROR",
        "DataTraceEnabled": False,
        **DEV_THROTTLING,
    }
    assert reports == {
        "HttpMethod": "GET",
        "ResourcePath": "/~1reports",
        "DataTraceEnabled": False,
        "ThrottlingRateLimit": 2,
    }


def test_the_alarm_topic_is_notified_by_every_gatekey_alarm_and_the_protected_apis(
    tmp_path: Path, assembly_dir: Path
) -> None:
    stack, api = protected_api(tmp_path, assembly_dir, add_files_methods, alarm_topic_name="files-alarms")
    template = Template.from_stack(stack).to_json()
    (topic_id,) = [name for name, resource in template["Resources"].items() if resource["Type"] == "AWS::SNS::Topic"]
    alarms = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    # Three failure queues, the management API's stage and the files API's stage.
    assert len(alarms) == 5
    for properties in alarms.values():
        assert properties["AlarmActions"] == [{"Ref": topic_id}]
    (files_alarm,) = [
        properties
        for properties in alarms.values()
        if {"Name": "ApiName", "Value": "FilesApi"} in properties.get("Dimensions", [])
    ]
    assert files_alarm["MetricName"] == "5XXError"
    (gatekey,) = [child for child in stack.node.children if isinstance(child, Gatekey)]
    protection = api.node.find_child("Gatekey")
    assert isinstance(protection, ApiProtection)
    assert protection.server_errors_alarm in gatekey.alarms
