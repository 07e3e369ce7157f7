"""Gatekey's CloudWatch alarms, made one way: something waits in a failure queue, or an API stage answered 5xx.

They have no actions of their own: a provider notifies through `Gatekey(alarm_topic=...)` or `add_alarm_action`.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# One period of five minutes: CloudWatch's standard resolution for SQS and API Gateway metrics, and soon enough
# for work that is kept 14 days (the queues) or for callers that get errors now (the stages).
ALARM_PERIOD = Duration.minutes(5)


def queue_not_empty_alarm(
    scope: Construct, construct_id: str, *, queue: sqs.IQueue, description: str
) -> cloudwatch.Alarm:
    """In alarm while any message waits in `queue`: every message there is work that failed and waits for an
    operator. A queue nobody touched stops reporting its metric; missing data is an empty queue, not an alarm."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        # Maximum, not Average: one message that arrived and stays is enough.
        metric=queue.metric_approximate_number_of_messages_visible(period=ALARM_PERIOD, statistic="Maximum"),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )


def server_errors_alarm(
    scope: Construct, construct_id: str, *, stage: apigateway.Stage, description: str
) -> cloudwatch.Alarm:
    """In alarm when the stage answered any 5xx in five minutes (`5XXError`, dimensions ApiName and Stage).

    Any, not a rate: Gatekey's own API never answers 5xx for a caller's input (DESIGN §7), so one is a fault
    (storage, KMS, the authorizer failing: AUTHORIZER_FAILURE is a 503); and a rate would hide an outage of a
    quiet stage, where a few requests are all there is. A stage without requests reports nothing: not an alarm.
    """
    return cloudwatch.Alarm(
        scope,
        construct_id,
        metric=stage.metric_server_error(period=ALARM_PERIOD, statistic="Sum"),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
