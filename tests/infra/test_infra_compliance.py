"""The synthesized templates pass cdk-nag's AWS Solutions rules and cfn-lint without errors."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_sqs as sqs
from stack_synthesis import SynthesizedStage, cfn_lint_errors, nag_errors, synthesize


def test_cdk_nag_aws_solutions_finds_no_unacknowledged_error(every_stage: SynthesizedStage) -> None:
    assert nag_errors(every_stage.validation_report) == []


def test_cdk_nag_checks_the_app_so_a_non_compliant_resource_is_reported(tmp_path: Path) -> None:
    # A queue without an SSL-only policy breaks AwsSolutions-SQS4; if nag did not run, nothing would say so.
    stage = synthesize(tmp_path, add_to_stack=lambda stack: sqs.Queue(stack, "NonCompliantQueue"), stage="dev")
    assert any(
        error.startswith("AwsSolutions-SQS4 at Gatekey-dev/NonCompliantQueue")
        for error in nag_errors(stage.validation_report)
    )


def test_cfn_lint_finds_no_error_in_the_template(every_stage: SynthesizedStage) -> None:
    assert cfn_lint_errors(every_stage.template_path) == []
