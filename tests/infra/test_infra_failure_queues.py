"""Nothing asynchronous is lost: log ingest's on-failure queue (named per stage, for `gatekey redrive-logs`), and
what every failure queue is (encrypted, TLS only, 14 days), who may send to it, and that only an operator reads it."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_sqs as sqs
from stack_synthesis import (
    SynthesizedStage,
    actions_on,
    as_list,
    function_resource,
    logical_id,
    policy_statements,
    table_logical_id,
)

from gatekey.api_gateway import FUNCTIONS, LOG_INGEST, SCHEDULER, WEBHOOK_DELIVERY
from gatekey.settings import log_ingest_failure_queue_name
from gatekey.storage.tables import KEYS_TABLE, REQUEST_LOGS_TABLE

FOURTEEN_DAYS_SECONDS = 14 * 24 * 3600
# What Lambda's on-failure destination needs of the function's role (the CDK grants it), and no more.
DESTINATION_SEND_ACTIONS = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}


def failure_queues(stage: SynthesizedStage) -> dict[str, sqs.Queue]:
    """Every failure queue of the stage, by the function whose failures it keeps."""
    gatekey = stage.stack.gatekey
    return {
        LOG_INGEST.name: gatekey.log_ingest_failure_queue,
        SCHEDULER.name: gatekey.scheduler_dead_letter_queue,
        WEBHOOK_DELIVERY.name: gatekey.webhook_dead_letter_queue,
    }


def log_ingest_queue_id(stage: SynthesizedStage) -> str:
    return logical_id(stage, stage.stack.gatekey.log_ingest_failure_queue)


def test_the_stage_has_exactly_its_three_failure_queues(every_stage: SynthesizedStage) -> None:
    assert set(every_stage.resources_of_type("AWS::SQS::Queue")) == {
        logical_id(every_stage, queue) for queue in failure_queues(every_stage).values()
    }


@pytest.mark.parametrize("stage_name", ["dev", "prod"])
def test_log_ingest_failures_go_to_the_queue_named_for_the_stage(
    stage_name: str, request: pytest.FixtureRequest
) -> None:
    stage: SynthesizedStage = request.getfixturevalue(stage_name)
    queue = stage.resources[log_ingest_queue_id(stage)]["Properties"]
    # The name `gatekey redrive-logs --stage S` looks the queue up by.
    assert (
        queue["QueueName"] == log_ingest_failure_queue_name(stage_name) == f"gatekey-{stage_name}-log-ingest-failures"
    )


def test_a_log_batch_that_still_fails_after_two_retries_is_kept_in_the_failure_queue(
    every_stage: SynthesizedStage,
) -> None:
    log_ingest_id = function_resource(every_stage, LOG_INGEST)[0]
    (config,) = [
        config["Properties"]
        for config in every_stage.resources_of_type("AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": log_ingest_id}
    ]
    assert config == {
        "FunctionName": {"Ref": log_ingest_id},
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 2,
        # Lambda's longest: a late request log is still worth storing; an expired batch goes to the queue too.
        "MaximumEventAgeInSeconds": 6 * 3600,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [log_ingest_queue_id(every_stage), "Arn"]}}},
    }


@pytest.mark.parametrize("function_name", [LOG_INGEST.name, SCHEDULER.name, WEBHOOK_DELIVERY.name])
def test_a_failure_queue_is_encrypted_and_keeps_messages_fourteen_days(
    every_stage: SynthesizedStage, function_name: str
) -> None:
    queue = every_stage.resources[logical_id(every_stage, failure_queues(every_stage)[function_name])]["Properties"]
    # SQS-managed keys: nothing that sends or replays needs the KMS key that guards API key secrets.
    assert queue["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in queue
    assert queue["MessageRetentionPeriod"] == FOURTEEN_DAYS_SECONDS


@pytest.mark.parametrize("function_name", [LOG_INGEST.name, SCHEDULER.name, WEBHOOK_DELIVERY.name])
def test_a_failure_queue_refuses_every_request_without_tls(every_stage: SynthesizedStage, function_name: str) -> None:
    queue_id = logical_id(every_stage, failure_queues(every_stage)[function_name])
    (policy,) = [
        policy["Properties"]
        for policy in every_stage.resources_of_type("AWS::SQS::QueuePolicy").values()
        if policy["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    assert {
        "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
    } in policy["PolicyDocument"]["Statement"]


def test_the_log_ingest_failure_queue_policy_lets_no_one_in(every_stage: SynthesizedStage) -> None:
    # Lambda sends with log ingest's role (an identity policy): the queue's own policy allows nothing.
    queue_id = log_ingest_queue_id(every_stage)
    (policy,) = [
        policy["Properties"]
        for policy in every_stage.resources_of_type("AWS::SQS::QueuePolicy").values()
        if policy["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    assert [statement["Effect"] for statement in policy["PolicyDocument"]["Statement"]] == ["Deny"]


@pytest.mark.parametrize("definition", FUNCTIONS, ids=lambda definition: definition.name)
def test_a_function_may_only_send_to_its_own_failure_queue_and_never_read_one(
    every_stage: SynthesizedStage, definition: Any
) -> None:
    statements = policy_statements(every_stage, definition)
    queues = failure_queues(every_stage)
    for function_name, queue in queues.items():
        expected = DESTINATION_SEND_ACTIONS if function_name == definition.name else set()
        assert actions_on(statements, logical_id(every_stage, queue)) == expected, function_name
    sqs_actions = {
        action for statement in statements for action in as_list(statement["Action"]) if action.startswith("sqs:")
    }
    assert sqs_actions == (DESTINATION_SEND_ACTIONS if definition.name in queues else set())


def test_an_operator_gets_exactly_what_replaying_log_batches_takes_from_the_redrive_policy(
    every_stage: SynthesizedStage,
) -> None:
    policy_id = logical_id(every_stage, every_stage.stack.gatekey.log_redrive_policy)
    policy = every_stage.resources[policy_id]["Properties"]
    # Nothing is attached: the operator attaches it to their own role or user.
    assert not {"Roles", "Users", "Groups"} & set(policy)
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    allowed = {
        (action, str(statement["Resource"]))
        for statement in statements
        for action in as_list(statement["Action"])
        if statement["Effect"] == "Allow"
    }

    def arn_of(resource_id: str) -> str:
        return str({"Fn::GetAtt": [resource_id, "Arn"]})

    queue = arn_of(log_ingest_queue_id(every_stage))
    assert allowed == {
        ("sqs:GetQueueUrl", queue),
        ("sqs:ReceiveMessage", queue),
        ("sqs:DeleteMessage", queue),
        ("sqs:ChangeMessageVisibility", queue),
        ("dynamodb:BatchWriteItem", arn_of(table_logical_id(every_stage, REQUEST_LOGS_TABLE))),
        ("dynamodb:UpdateItem", arn_of(table_logical_id(every_stage, KEYS_TABLE))),
    }


@pytest.mark.parametrize(
    ("output", "parameter", "published"),
    [
        ("GatekeyLogIngestFailureQueueUrl", "log-ingest-failure-queue-url", "log_ingest_failure_queue"),
        ("GatekeyLogRedrivePolicyArn", "log-redrive-policy-arn", "log_redrive_policy"),
    ],
)
@pytest.mark.parametrize("stage_name", ["dev", "prod"])
def test_the_failure_queue_url_and_the_redrive_policy_are_an_output_and_an_ssm_parameter(
    stage_name: str, output: str, parameter: str, published: str, request: pytest.FixtureRequest
) -> None:
    stage: SynthesizedStage = request.getfixturevalue(stage_name)
    # A queue's Ref is its URL, a managed policy's its ARN.
    value = {"Ref": logical_id(stage, getattr(stage.stack.gatekey, published))}
    assert stage.template_json["Outputs"][output]["Value"] == value
    stage.template.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": f"/gatekey/{stage_name}/{parameter}", "Type": "String", "Value": value}
    )
