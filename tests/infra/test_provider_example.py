"""The example provider (examples/invoices), synthesized as a provider would: its own project outside this
repository, Gatekey installed from this repository's wheel, `cdk synth` running cdk.json's app command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from provider_app import INVOICES_EXAMPLE, AppRun, copy_example, install_gatekey_wheel, provider_environment, synth
from stack_synthesis import cfn_lint_errors, nag_errors

from gatekey.access_log import access_log_format_string
from gatekey.api_gateway import AUTHORIZER, GATEWAY_RESPONSES, LOG_INGEST, LambdaFunction
from gatekey.cdk.bundling import CONFIGURATION_FILE_NAME
from gatekey.configuration import CONFIG_FILE_ENV_VAR, ConfigurationError, load_configuration
from gatekey.domain.plans import usage_plan_name
from gatekey.settings import API_VERSION, STAGES, log_ingest_failure_queue_name

STACK = "Invoices-dev"
API_NAME = "invoices-dev"
PUBLIC = {("GET", "/status")}
PROTECTED = {
    ("GET", "/invoices"),
    ("POST", "/invoices"),
    ("GET", "/invoices/{id}"),
    ("DELETE", "/invoices/{id}"),
    ("POST", "/invoices/{id}/send"),
    ("GET", "/customers"),
    ("GET", "/customers/{id}"),
}


@pytest.fixture(scope="session")
def gatekey_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository's wheel, installed on its own (no checkout on the import path)."""
    return install_gatekey_wheel(tmp_path_factory.mktemp("gatekey-wheel"))


@pytest.fixture(scope="session")
def bundle_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty bundle cache, so the first synth shows what a provider's first synth does."""
    return tmp_path_factory.mktemp("bundle-cache")


@pytest.fixture(scope="session")
def invoices(tmp_path_factory: pytest.TempPathFactory, gatekey_site: Path, bundle_cache: Path) -> AppRun:
    app_dir = copy_example(tmp_path_factory.mktemp("provider") / "invoices")
    return synth(app_dir, app_dir / "cdk.out", provider_environment(gatekey_site, bundle_cache))


@pytest.fixture(scope="session")
def invoices_again(
    tmp_path_factory: pytest.TempPathFactory, gatekey_site: Path, bundle_cache: Path, invoices: AppRun
) -> AppRun:
    """A second synth, in a new directory, with pip unable to download anything: it must not need pip."""
    app_dir = copy_example(tmp_path_factory.mktemp("provider-again") / "invoices")
    offline = {"PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_FIND_LINKS": str(app_dir)}
    return synth(app_dir, app_dir / "cdk.out", provider_environment(gatekey_site, bundle_cache, **offline))


def synthesized(run: AppRun) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr
    return run.template(STACK)


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    """The one resource of `resource_type` whose properties include `properties`."""
    ((name, resource),) = [
        (name, resource["Properties"])
        for name, resource in resources_of_type(template, resource_type).items()
        if all(resource["Properties"].get(key) == value for key, value in properties.items())
    ]
    return name, resource


def invoices_api_id(template: dict[str, Any]) -> str:
    return only(template, "AWS::ApiGateway::RestApi", Name=API_NAME)[0]


def function_id(template: dict[str, Any], definition: LambdaFunction) -> str:
    return only(template, "AWS::Lambda::Function", Handler=definition.handler)[0]


def resource_path(template: dict[str, Any], resource_ref: dict[str, Any]) -> str:
    if "Fn::GetAtt" in resource_ref:  # the API's root resource
        return ""
    properties = template["Resources"][resource_ref["Ref"]]["Properties"]
    return f"{resource_path(template, properties['ParentId'])}/{properties['PathPart']}"


def invoices_methods(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    api = {"Ref": invoices_api_id(template)}
    return {
        (method["Properties"]["HttpMethod"], resource_path(template, method["Properties"]["ResourceId"])): method[
            "Properties"
        ]
        for method in resources_of_type(template, "AWS::ApiGateway::Method").values()
        if method["Properties"]["RestApiId"] == api
    }


def test_the_app_runs_on_gatekey_from_the_wheel_not_from_this_checkout(gatekey_site: Path, bundle_cache: Path) -> None:
    located = subprocess.run(
        ["python3", "-c", "import gatekey.cdk, gatekey; print(gatekey.__file__)"],
        env=provider_environment(gatekey_site, bundle_cache),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(located.stdout.strip()).is_relative_to(gatekey_site)


def test_every_route_but_the_public_one_needs_gatekeys_authorizer(invoices: AppRun) -> None:
    template = synthesized(invoices)
    api = {"Ref": invoices_api_id(template)}
    authorizer_id, authorizer = only(template, "AWS::ApiGateway::Authorizer", RestApiId=api)
    assert authorizer["Type"] == "REQUEST"
    assert f'"{function_id(template, AUTHORIZER)}"' in json.dumps(authorizer["AuthorizerUri"])
    methods = invoices_methods(template)
    assert set(methods) == PROTECTED | PUBLIC
    for route in PROTECTED:
        assert methods[route]["AuthorizationType"] == "CUSTOM", route
        assert methods[route]["AuthorizerId"] == {"Ref": authorizer_id}, route


def test_get_status_is_public_as_gatekey_toml_says(invoices: AppRun) -> None:
    status = invoices_methods(synthesized(invoices))[("GET", "/status")]
    assert status["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in status


def test_gatekey_tomls_plans_limit_the_invoices_api_through_keys_the_authorizer_names(invoices: AppRun) -> None:
    template = synthesized(invoices)
    api_id = invoices_api_id(template)
    assert template["Resources"][api_id]["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    methods = invoices_methods(template)
    assert {route for route, method in methods.items() if method.get("ApiKeyRequired")} == PROTECTED
    stage_id, _ = only(template, "AWS::ApiGateway::Stage", RestApiId={"Ref": api_id})
    plans = load_configuration(INVOICES_EXAMPLE / "gatekey.toml").plans
    for plan in plans.names():
        _, usage_plan = only(template, "AWS::ApiGateway::UsagePlan", UsagePlanName=usage_plan_name("dev", plan))
        assert [(stage["ApiId"], stage["Stage"]) for stage in usage_plan["ApiStages"]] == [
            ({"Ref": api_id}, {"Ref": stage_id})
        ]
        assert usage_plan["Throttle"] == {"RateLimit": plans[plan].rate, "BurstLimit": plans[plan].burst}


def test_the_stage_writes_gatekeys_access_log_to_a_group_that_feeds_log_ingest(invoices: AppRun) -> None:
    template = synthesized(invoices)
    _, stage = only(template, "AWS::ApiGateway::Stage", RestApiId={"Ref": invoices_api_id(template)})
    assert stage["AccessLogSetting"]["Format"] == access_log_format_string()
    log_group_id = stage["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    _, subscription = only(template, "AWS::Logs::SubscriptionFilter", LogGroupName={"Ref": log_group_id})
    assert subscription["DestinationArn"] == {"Fn::GetAtt": [function_id(template, LOG_INGEST), "Arn"]}
    assert subscription["FilterPattern"] == ""


def test_the_api_answers_refusals_with_gatekeys_gateway_responses(invoices: AppRun) -> None:
    template = synthesized(invoices)
    api = {"Ref": invoices_api_id(template)}
    for response in GATEWAY_RESPONSES:
        _, gateway_response = only(
            template, "AWS::ApiGateway::GatewayResponse", RestApiId=api, ResponseType=response.response_type
        )
        assert gateway_response.get("StatusCode") == (
            None if response.status_code is None else str(response.status_code)
        )
        assert gateway_response["ResponseTemplates"] == {"application/json": response.body}
        assert gateway_response["ResponseParameters"]["gatewayresponse.header.Gatekey-Version"] == f"'{API_VERSION}'"


def test_the_api_stage_is_throttled_and_its_5xx_raise_an_alarm(invoices: AppRun) -> None:
    template = synthesized(invoices)
    stage_id, stage = only(template, "AWS::ApiGateway::Stage", RestApiId={"Ref": invoices_api_id(template)})
    (every_method,) = stage["MethodSettings"]
    assert (every_method["ThrottlingRateLimit"], every_method["ThrottlingBurstLimit"]) == (
        STAGES["dev"].throttle_rate_per_second,
        STAGES["dev"].throttle_burst,
    )
    _, alarm = only(
        template,
        "AWS::CloudWatch::Alarm",
        MetricName="5XXError",
        Dimensions=[
            {"Name": "ApiName", "Value": API_NAME},
            {"Name": "Stage", "Value": {"Ref": stage_id}},
        ],
    )
    assert (alarm["Statistic"], alarm["Threshold"], alarm["Period"]) == ("Sum", 0, 300)


@pytest.mark.parametrize(
    ("output", "parameter"),
    [
        ("GatekeyAuthorizerFunctionArn", "/gatekey/dev/authorizer-function-arn"),
        ("GatekeyLogIngestFunctionArn", "/gatekey/dev/log-ingest-function-arn"),
        ("GatekeyAccessLogFormat", "/gatekey/dev/access-log-format"),
        ("GatekeyManagementApiUrl", "/gatekey/dev/management-api-url"),
        ("GatekeyLogIngestFailureQueueUrl", "/gatekey/dev/log-ingest-failure-queue-url"),
        ("GatekeyLogRedrivePolicyArn", "/gatekey/dev/log-redrive-policy-arn"),
    ],
)
def test_what_other_iac_tools_need_is_a_stack_output_and_an_ssm_parameter(
    invoices: AppRun, output: str, parameter: str
) -> None:
    template = synthesized(invoices)
    _, ssm_parameter = only(template, "AWS::SSM::Parameter", Name=parameter)
    assert ssm_parameter["Type"] == "String"
    assert ssm_parameter["Value"] == template["Outputs"][output]["Value"]


def test_the_published_values_are_the_functions_and_the_format(invoices: AppRun) -> None:
    template = synthesized(invoices)
    outputs = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert outputs["GatekeyAuthorizerFunctionArn"] == {"Fn::GetAtt": [function_id(template, AUTHORIZER), "Arn"]}
    assert outputs["GatekeyLogIngestFunctionArn"] == {"Fn::GetAtt": [function_id(template, LOG_INGEST), "Arn"]}
    assert outputs["GatekeyAccessLogFormat"] == access_log_format_string()
    queue_id, _ = only(template, "AWS::SQS::Queue", QueueName=log_ingest_failure_queue_name("dev"))
    assert outputs["GatekeyLogIngestFailureQueueUrl"] == {"Ref": queue_id}


def test_the_functions_read_gatekey_toml_as_json_from_their_bundle(invoices: AppRun) -> None:
    template = synthesized(invoices)
    authorizer = template["Resources"][function_id(template, AUTHORIZER)]["Properties"]
    asset = invoices.outdir / f"asset.{authorizer['Code']['S3Key'].removesuffix('.zip')}"
    expected = load_configuration(invoices.outdir.parent / "gatekey.toml")
    assert (asset / CONFIGURATION_FILE_NAME).read_text() == expected.to_json()
    assert load_configuration(asset / CONFIGURATION_FILE_NAME).catalog == expected.catalog
    assert authorizer["Environment"]["Variables"][CONFIG_FILE_ENV_VAR] == f"/var/task/{CONFIGURATION_FILE_NAME}"
    # The package came from the wheel: its data files too (the demo store's configuration, read without a file).
    assert (asset / "gatekey" / "handlers" / "store_demo.toml").is_file()
    assert (asset / "gatekey" / "handlers" / "authorizer.py").is_file()


def test_the_example_is_clean_under_cdk_nag_aws_solutions(invoices: AppRun) -> None:
    synthesized(invoices)
    assert nag_errors(invoices.validation_report) == []


def test_the_example_is_clean_under_cfn_lint(invoices: AppRun) -> None:
    synthesized(invoices)
    assert cfn_lint_errors(invoices.outdir / f"{STACK}.template.json") == []


def test_the_first_synth_installs_the_dependencies_into_the_cache(invoices: AppRun, bundle_cache: Path) -> None:
    synthesized(invoices)
    assert any(message.startswith("Gatekey: installing Lambda dependencies") for message in invoices.messages)
    (entry,) = [path for path in bundle_cache.iterdir() if not path.name.startswith(".")]
    assert (entry / "python" / "aws_lambda_powertools").is_dir()


def test_a_second_synth_elsewhere_takes_the_dependencies_from_the_cache_without_pip(
    invoices: AppRun, invoices_again: AppRun, bundle_cache: Path
) -> None:
    again = synthesized(invoices_again)
    assert not any("installing" in message for message in invoices_again.messages)
    assert any(message.startswith("Gatekey: Lambda dependencies") for message in invoices_again.messages)
    assert len(list(bundle_cache.iterdir())) == 1
    # The same inputs make the same asset: a deployment would upload nothing new.
    first = synthesized(invoices)
    assert (
        again["Resources"][function_id(again, AUTHORIZER)]["Properties"]["Code"]
        == first["Resources"][function_id(first, AUTHORIZER)]["Properties"]["Code"]
    )


BAD_CONFIG = """
[permissions]
invoices = "admin"
keys = "read"

[[routes]]
method = "POST"
path = "/invoices/{id}/send"
permission = "payments:read"
"""


def test_a_bad_configuration_stops_synthesis_with_one_line_per_problem(
    tmp_path: Path, gatekey_site: Path, bundle_cache: Path, invoices: AppRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `invoices` first: it is the synth that meets the empty bundle cache.
    app_dir = copy_example(tmp_path / "invoices")
    (app_dir / "gatekey.toml").write_text(BAD_CONFIG)
    monkeypatch.chdir(app_dir)
    with pytest.raises(ConfigurationError) as problems:
        load_configuration("gatekey.toml")
    assert len(problems.value.problems) == 3

    run = synth(app_dir, app_dir / "cdk.out", provider_environment(gatekey_site, bundle_cache))
    assert run.returncode != 0
    assert run.messages == list(problems.value.problems)
    assert "Traceback" not in run.stderr


def test_a_public_route_the_api_does_not_have_stops_synthesis_naming_it(
    tmp_path: Path, gatekey_site: Path, bundle_cache: Path, invoices: AppRun
) -> None:
    # After the first synth (`invoices`): the bundle's dependencies are cached, and that synth saw an empty cache.
    app_dir = copy_example(tmp_path / "invoices")
    config = app_dir / "gatekey.toml"
    config.write_text(config.read_text() + '\n[[routes]]\nmethod = "GET"\npath = "/health"\npublic = true\n')
    run = synth(app_dir, app_dir / "cdk.out", provider_environment(gatekey_site, bundle_cache))
    assert run.returncode != 0
    # The configuration is fine on its own: the mismatch shows once protect() meets the API, after bundling began.
    (message,) = [message for message in run.messages if message.startswith("gatekey.toml:")]
    assert run.messages[-1] == message
    assert message.startswith("gatekey.toml: public route GET /health: ")
    assert "no resource /health" in message
    assert "Traceback" not in run.stderr
