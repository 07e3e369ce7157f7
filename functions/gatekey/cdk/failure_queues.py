"""Where Gatekey keeps what its asynchronous work failed on, so nothing is lost: encrypted SQS queues kept 14 days,
each watched by an alarm; and log ingest's, which `gatekey redrive-logs --stage S` replays into the request logs.

Nothing of Gatekey's reads these queues: Lambda and EventBridge only send to them (the CDK grants a function's role
SendMessage on its own destination). What is in them is for an operator, with the operator's own credentials.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from gatekey.cdk.alarms import queue_not_empty_alarm
from gatekey.cdk.log_groups import removal_policy
from gatekey.settings import StageSettings, log_ingest_failure_queue_name

# SQS keeps a message at most 14 days: the time an operator has to look at a failure and replay it.
FAILURE_RETENTION = Duration.days(14)
# Log ingest's batches are retried twice by Lambda (with backoff), and may wait in Lambda's queue as long as Lambda
# allows (6 hours) while it is throttled or DynamoDB is out: a request log is worth storing late (it is kept 30
# days). What is still not stored goes to the failure queue, an expired batch included.
LOG_INGEST_RETRY_ATTEMPTS = 2
LOG_INGEST_MAX_EVENT_AGE = Duration.hours(6)


def failure_queue(
    scope: Construct, construct_id: str, *, settings: StageSettings, holds: str, queue_name: str | None = None
) -> sqs.Queue:
    """A queue that is itself the last stop of failed work (`holds` says whose): SSE with SQS-managed keys, TLS
    only, 14 days, removed with the stage's data.

    SQS-managed keys, not the stage's KMS key: a failed batch holds what the access log and the events hold, never
    a plaintext secret (DESIGN §2; sealed event fields stay sealed), while the KMS key unseals API key secrets.
    Using it here would let log ingest, the scheduler, EventBridge and every operator who replays a batch use the
    key that guards secrets."""
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=FAILURE_RETENTION,
        removal_policy=removal_policy(settings),
    )
    Validations.of(queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason=f"This queue is itself the dead-letter queue of {holds}; nothing consumes it that could fail in "
            "turn (an operator reads it)",
        )
    )
    return queue


class LogIngestFailures(Construct):
    """Log ingest's on-failure destination (CloudWatch Logs invokes it asynchronously: a batch that still fails after
    Lambda's retries would otherwise be gone), its alarm, and the policy an operator's identity needs to replay it.

    Attributes: `queue` (named `log_ingest_failure_queue_name(stage)`, so the CLI finds it by stage), `alarm`,
    `redrive_policy` (a managed policy to attach to the operator's role or user)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        log_ingest: lambda_.Function,
        request_logs_table: dynamodb.ITable,
        keys_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = failure_queue(
            self,
            "Queue",
            settings=settings,
            holds="log ingest (its on-failure destination; `gatekey redrive-logs` replays it)",
            queue_name=log_ingest_failure_queue_name(settings.stage),
        )
        # The destination's grant gives log ingest's role SendMessage on this queue, and nothing that reads it.
        log_ingest.configure_async_invoke(
            retry_attempts=LOG_INGEST_RETRY_ATTEMPTS,
            max_event_age=LOG_INGEST_MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.queue),
        )
        self.alarm: cloudwatch.Alarm = queue_not_empty_alarm(
            self,
            "Alarm",
            queue=self.queue,
            description=f"Gatekey {settings.stage}: log ingest failed on access-log batches (requests missing from "
            f"GET /v1/logs); fix the cause, then run `gatekey redrive-logs --stage {settings.stage}`",
        )
        self.redrive_policy = iam.ManagedPolicy(
            self,
            "RedrivePolicy",
            description=f"Gatekey {settings.stage}: what `gatekey redrive-logs` needs (an operator's identity)",
            statements=[
                # Finding the queue by name, taking each batch, removing it once replayed, or releasing it at once.
                iam.PolicyStatement(
                    actions=[
                        "sqs:GetQueueUrl",
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                    ],
                    resources=[self.queue.queue_arn],
                ),
                # What log ingest itself does with a batch: store its entries, stamp last_used_at on their keys.
                iam.PolicyStatement(actions=["dynamodb:BatchWriteItem"], resources=[request_logs_table.table_arn]),
                iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[keys_table.table_arn]),
            ],
        )
