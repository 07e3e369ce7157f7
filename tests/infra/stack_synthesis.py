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
from gatekey.storage.tables import TableDefinition
from infra.app import add_gatekey, cdk_json_context
from infra.stack import GatekeyStack

# Synthesis must not stop at the first cdk-nag finding: the compliance tests read them from the report.
COLLECT_VALIDATION_FINDINGS = {"@aws-cdk/core:failSynthOnValidationErrors": False}
CACHED_AUTHORIZER_TTL_SECONDS = 300


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
