"""The synthesized templates pass cdk-nag's AWS Solutions rules and cfn-lint without errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cfnlint.api
from aws_cdk import aws_sqs as sqs
from stack_synthesis import SynthesizedStage, synthesize


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


def test_cdk_nag_aws_solutions_finds_no_unacknowledged_error(every_stage: SynthesizedStage) -> None:
    assert nag_errors(every_stage.validation_report) == []


def test_cdk_nag_checks_the_app_so_a_non_compliant_resource_is_reported(lambda_asset: Path, tmp_path: Path) -> None:
    # A queue without an SSL-only policy breaks AwsSolutions-SQS4; if nag did not run, nothing would say so.
    stage = synthesize(tmp_path, add_to_stack=lambda stack: sqs.Queue(stack, "NonCompliantQueue"), stage="dev")
    assert any(
        error.startswith("AwsSolutions-SQS4 at Gatekey-dev/NonCompliantQueue")
        for error in nag_errors(stage.validation_report)
    )


def test_cfn_lint_finds_no_error_in_the_template(every_stage: SynthesizedStage) -> None:
    matches = cfnlint.api.lint(every_stage.template_path.read_text())
    assert [str(match) for match in matches if match.rule.severity == "error"] == []
