"""How every Gatekey log group is made: the stage's retention and removal policy, in one place."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from constructs import Construct

from gatekey.settings import StageSettings

# The retentions CloudWatch Logs accepts; the CDK names them instead of taking a number of days.
_RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    """The CloudWatch retention for `days`, which must be one CloudWatch Logs offers."""
    try:
        return _RETENTION_BY_DAYS[days]
    except KeyError:
        offered = ", ".join(str(value) for value in _RETENTION_BY_DAYS)
        raise ValueError(f"CloudWatch Logs cannot keep logs {days} days; choose one of {offered}") from None


def removal_policy(settings: StageSettings) -> RemovalPolicy:
    """What deleting the stack does to the stage's data: prod keeps it, dev cleans up."""
    return RemovalPolicy.RETAIN if settings.retain_data_on_delete else RemovalPolicy.DESTROY


def stage_log_group(
    scope: Construct, construct_id: str, *, settings: StageSettings, log_group_name: str | None = None
) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=log_group_name,
        retention=retention(settings.log_retention_days),
        removal_policy=removal_policy(settings),
    )


def execution_log_group(
    scope: Construct, construct_id: str, *, rest_api: apigateway.RestApi, settings: StageSettings
) -> logs.LogGroup:
    """The group of the execution logs of the API's stage, which is named after the Gatekey stage. API Gateway
    would create it itself, with no retention; creating it first, before the stage, sets the stage's."""
    log_group = stage_log_group(
        scope,
        construct_id,
        settings=settings,
        # The stage's name as written, not its token: that would make the group depend on the stage.
        log_group_name=f"API-Gateway-Execution-Logs_{rest_api.rest_api_id}/{settings.stage}",
    )
    rest_api.deployment_stage.node.add_dependency(log_group)
    return log_group
