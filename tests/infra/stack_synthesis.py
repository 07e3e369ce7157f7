"""Synthesizes the Gatekey app the way `cdk synth` does and exposes the template and cdk-nag findings to tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cfnlint.api
from aws_cdk import App, CfnElement
from aws_cdk.assertions import Template
from constructs import IConstruct

from gatekey.api_gateway import LambdaFunction
from gatekey.configuration import DEFAULT_CONFIG_FILE
from gatekey.storage.tables import TableDefinition
from infra.app import add_gatekey, cdk_json_context
from infra.stack import GatekeyStack

# Synthesis must not stop at the first cdk-nag finding: the compliance tests read them from the report.
COLLECT_VALIDATION_FINDINGS = {"@aws-cdk/core:failSynthOnValidationErrors": False}
CACHED_AUTHORIZER_TTL_SECONDS = 300
# DESIGN §13's plans: one quota per period, and one plan without a quota (and a rate below one request a second).
PLANS = """
[plans.free]
rate = 5
burst = 10
quota = { limit = 1000, period = "day" }

[plans.team]
rate = 50
burst = 100
quota = { limit = 100000, period = "week" }

[plans.pro]
rate = 100
burst = 200
quota = { limit = 1000000, period = "month" }

[plans.batch]
rate = 0.5
burst = 1
"""


@dataclass(frozen=True)
class SynthesizedStage:
    """One stage's stack, synthesized the way `cdk synth -c stage=...` does it, nag checks included."""

    stack: GatekeyStack
    template: Template
    template_json: dict[str, Any]
    template_path: Path
    validation_report: dict[str, Any]

    @property
    def assembly_dir(self) -> Path:
        return self.template_path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template_json["Resources"]
        return resources

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: resource for name, resource in self.resources.items() if resource["Type"] == resource_type}


def logical_id(stage: SynthesizedStage, construct: IConstruct) -> str:
    """The logical id of `construct`'s CloudFormation resource (its default child) in the stage's template."""
    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    assert isinstance(element, CfnElement), construct.node.path
    resolved: str = stage.stack.resolve(stage.stack.get_logical_id(element))
    return resolved


def resource_path(stage: SynthesizedStage, resource_ref: dict[str, Any]) -> str:
    """The URL path of an API Gateway resource, rebuilt from its chain of PathParts up to the API root."""
    if "Fn::GetAtt" in resource_ref:  # the API's root resource
        return ""
    properties = stage.resources[resource_ref["Ref"]]["Properties"]
    return f"{resource_path(stage, properties['ParentId'])}/{properties['PathPart']}"


def rest_api_id(stage: SynthesizedStage, name: str) -> str:
    """The logical id of the REST API named `name`."""
    (api_id,) = [
        api_id
        for api_id, api in stage.resources_of_type("AWS::ApiGateway::RestApi").items()
        if api["Properties"]["Name"] == name
    ]
    return api_id


def management_api_id(stage: SynthesizedStage) -> str:
    return rest_api_id(stage, f"gatekey-{stage.stack.settings.stage}")


def store_api_id(stage: SynthesizedStage) -> str:
    return rest_api_id(stage, f"gatekey-{stage.stack.settings.stage}-store-demo")


def methods_by_route(stage: SynthesizedStage, api_id: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The methods of one API (or of all), by (HTTP method, path)."""
    return {
        (method["Properties"]["HttpMethod"], resource_path(stage, method["Properties"]["ResourceId"])): method[
            "Properties"
        ]
        for method in stage.resources_of_type("AWS::ApiGateway::Method").values()
        if api_id is None or method["Properties"]["RestApiId"] == {"Ref": api_id}
    }


def stage_of(stage: SynthesizedStage, api_id: str) -> tuple[str, dict[str, Any]]:
    ((name, api_stage),) = [
        (name, api_stage["Properties"])
        for name, api_stage in stage.resources_of_type("AWS::ApiGateway::Stage").items()
        if api_stage["Properties"]["RestApiId"] == {"Ref": api_id}
    ]
    return name, api_stage


def nag_errors(report: dict[str, Any]) -> list[str]:
    """cdk-nag's unacknowledged AWS Solutions errors, as CDK's validation report lists them."""
    return [
        f"{violation['ruleName']} at {construct['constructPath']}: {violation['description']}"
        for plugin in report["pluginReports"]
        if plugin["pluginName"] == "AwsSolutions"
        for violation in plugin["violations"]
        if violation["severity"] in {"error", "fatal"}
        for construct in violation["violatingConstructs"]
    ]


def cfn_lint_errors(template_path: Path) -> list[str]:
    """cfn-lint's errors (not its warnings) in a synthesized template."""
    return [str(match) for match in cfnlint.api.lint(template_path.read_text()) if match.rule.severity == "error"]


def function_resource(stage: SynthesizedStage, definition: LambdaFunction) -> tuple[str, dict[str, Any]]:
    """The logical id and resource of the Lambda function that runs `definition`'s handler."""
    (match,) = [
        (name, resource)
        for name, resource in stage.resources_of_type("AWS::Lambda::Function").items()
        if resource["Properties"]["Handler"] == definition.handler
    ]
    return match


def asset_dir(stage: SynthesizedStage, definition: LambdaFunction) -> Path:
    """The directory of the code asset `definition`'s function deploys, as the CDK staged it for upload."""
    s3_key: str = function_resource(stage, definition)[1]["Properties"]["Code"]["S3Key"]
    return stage.assembly_dir / f"asset.{s3_key.removesuffix('.zip')}"


def secrets_key_id(stage: SynthesizedStage) -> str:
    """The logical id of the KMS key that seals secrets (the stage's other key is the HMAC key of the pepper)."""
    (key_id,) = [
        name
        for name, key in stage.resources_of_type("AWS::KMS::Key").items()
        if key["Properties"].get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    ]
    return key_id


def secret_mac_key_id(stage: SynthesizedStage) -> str:
    """The logical id of the HMAC key whose MAC peppers API-key secret hashes."""
    (key_id,) = [
        name
        for name, key in stage.resources_of_type("AWS::KMS::Key").items()
        if key["Properties"].get("KeySpec") == "HMAC_256"
    ]
    return key_id


def table_logical_id(stage: SynthesizedStage, definition: TableDefinition) -> str:
    """The logical id of the table `definition` describes, found by its name (several tables share key names)."""
    (name,) = [
        name
        for name, table in stage.resources_of_type("AWS::DynamoDB::Table").items()
        if table["Properties"]["TableName"] == definition.physical_name(stage.stack.settings.stage)
    ]
    return name


def policy_statements(stage: SynthesizedStage, definition: LambdaFunction) -> list[dict[str, Any]]:
    """Every statement of the IAM policies attached to the role of `definition`'s function."""
    role_id = function_resource(stage, definition)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in stage.resources_of_type("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    """A policy's Action or Resource, which IAM writes as one value or a list of them."""
    return value if isinstance(value, list) else [value]


def actions_on(statements: list[dict[str, Any]], logical_id: str) -> set[str]:
    """The actions the statements allow on the resource `logical_id` (its ARN or its indexes)."""
    allowed: set[str] = set()
    for statement in statements:
        if logical_id in str(as_list(statement["Resource"])):
            allowed |= set(as_list(statement["Action"]))
    return allowed


def write_config_with_plans(directory: Path) -> Path:
    """The demo store's configuration file (its stack protects the demo store) with PLANS, written in `directory`."""
    config = directory / "gatekey.toml"
    # default_plan before the file's tables, or TOML would read it as an entry of the last one.
    config.write_text(f'default_plan = "free"\n{DEFAULT_CONFIG_FILE.read_text()}\n{PLANS}')
    return config


def synthesize(
    outdir: Path, *, add_to_stack: Callable[[GatekeyStack], object] | None = None, **context: object
) -> SynthesizedStage:
    """Synthesizes the app for `context` (e.g. stage="prod"); `add_to_stack` may add resources before synthesis."""
    app = App(context={**cdk_json_context(), **COLLECT_VALIDATION_FINDINGS, **context}, outdir=str(outdir))
    stack = add_gatekey(app)
    if add_to_stack is not None:
        add_to_stack(stack)
    assembly = app.synth()
    report_path = Path(assembly.directory) / "validation-report.json"
    template = Template.from_stack(stack)
    return SynthesizedStage(
        stack=stack,
        template=template,
        template_json=template.to_json(),
        template_path=Path(assembly.directory) / stack.template_file,
        validation_report=json.loads(report_path.read_text()),
    )
