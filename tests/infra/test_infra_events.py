"""The synthesized events side: the stage's bus, webhook delivery with its retries and dead-letter queue, the
scheduler's schedule with its retries and dead-letter queue, and what the functions may do with events and webhooks."""

from __future__ import annotations

from typing import Any

import pytest
from stack_synthesis import (
    SynthesizedStage,
    actions_on,
    as_list,
    function_resource,
    logical_id,
    policy_statements,
    secrets_key_id,
    table_logical_id,
)

from gatekey.api_gateway import (
    AUTHORIZER,
    FUNCTIONS,
    LOG_INGEST,
    MANAGEMENT_API,
    SCHEDULER,
    STORE_DEMO,
    WEBHOOK_DELIVERY,
    LambdaFunction,
)
from gatekey.settings import EVENT_BUS_ENV_VAR, event_bus_name
from gatekey.storage.event_bus import DELIVERY_EVENT_PATTERN
from gatekey.storage.tables import (
    ALL_TABLES,
    DIRECTORY_TABLE,
    EVENTS_TABLE,
    IDEMPOTENCY_TABLE,
    KEYS_TABLE,
    WEBHOOKS_TABLE,
    TableDefinition,
)

DESTINATION_SEND_ACTIONS = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}


def only_resource(stage: SynthesizedStage, resource_type: str) -> tuple[str, dict[str, Any]]:
    ((name, resource),) = stage.resources_of_type(resource_type).items()
    return name, resource


def bus_id(stage: SynthesizedStage) -> str:
    return only_resource(stage, "AWS::Events::EventBus")[0]


def dead_letter_queue_id(stage: SynthesizedStage) -> str:
    return logical_id(stage, stage.stack.gatekey.webhook_dead_letter_queue)


def scheduler_dead_letter_queue_id(stage: SynthesizedStage) -> str:
    return logical_id(stage, stage.stack.gatekey.scheduler_dead_letter_queue)


def invoke_config_of(stage: SynthesizedStage, definition: LambdaFunction) -> dict[str, Any]:
    """The asynchronous invocation settings of `definition`'s function (retries, maximum age, destinations)."""
    function_id = function_resource(stage, definition)[0]
    (config,) = [
        config["Properties"]
        for config in stage.resources_of_type("AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return config


def queue_policy_statements(stage: SynthesizedStage, queue_id: str) -> list[dict[str, Any]]:
    (policy,) = [
        policy["Properties"]
        for policy in stage.resources_of_type("AWS::SQS::QueuePolicy").values()
        if policy["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def rule_targeting(stage: SynthesizedStage, definition: LambdaFunction) -> tuple[str, dict[str, Any]]:
    """The one EventBridge rule whose target is `definition`'s function, and that rule's properties."""
    function_id = function_resource(stage, definition)[0]
    (match,) = [
        (name, rule["Properties"])
        for name, rule in stage.resources_of_type("AWS::Events::Rule").items()
        if any(target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for target in rule["Properties"]["Targets"])
    ]
    return match


def index_arn(stage: SynthesizedStage, definition: TableDefinition, index_name: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [table_logical_id(stage, definition), "Arn"]}, f"/index/{index_name}"]]}


def resources_of_statements_on(statements: list[dict[str, Any]], logical_id: str) -> list[Any]:
    return [
        resource
        for statement in statements
        for resource in as_list(statement["Resource"])
        if logical_id in str(resource)
    ]


def test_domain_events_go_on_the_bus_named_for_the_stage(every_stage: SynthesizedStage) -> None:
    name = event_bus_name(every_stage.stack.settings.stage)
    bus = only_resource(every_stage, "AWS::Events::EventBus")[1]
    assert bus["Properties"]["Name"] == name
    # What the functions put their events on (EventBridgeBus reads it) is that bus.
    for definition in FUNCTIONS:
        variables = function_resource(every_stage, definition)[1]["Properties"]["Environment"]["Variables"]
        assert variables[EVENT_BUS_ENV_VAR] == name


def test_every_gatekey_event_on_the_bus_goes_to_webhook_delivery(every_stage: SynthesizedStage) -> None:
    _, rule = rule_targeting(every_stage, WEBHOOK_DELIVERY)
    assert rule["EventBusName"] == {"Ref": bus_id(every_stage)}
    assert rule["EventPattern"] == DELIVERY_EVENT_PATTERN
    assert rule["State"] == "ENABLED"
    assert len(rule["Targets"]) == 1


def test_an_event_eventbridge_cannot_hand_to_webhook_delivery_is_retried_then_dead_lettered(
    every_stage: SynthesizedStage,
) -> None:
    _, rule = rule_targeting(every_stage, WEBHOOK_DELIVERY)
    (target,) = rule["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 24 * 3600}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dead_letter_queue_id(every_stage), "Arn"]}}


def test_a_failed_delivery_is_retried_twice_by_lambda_then_sent_to_the_dead_letter_queue(
    every_stage: SynthesizedStage,
) -> None:
    webhooks_id = function_resource(every_stage, WEBHOOK_DELIVERY)[0]
    assert invoke_config_of(every_stage, WEBHOOK_DELIVERY) == {
        "FunctionName": {"Ref": webhooks_id},
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 6 * 3600,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dead_letter_queue_id(every_stage), "Arn"]}}},
    }
    # Lambda sends the on-failure record with the function's role, and checks it may when the config is created.
    assert "sqs:SendMessage" in actions_on(
        policy_statements(every_stage, WEBHOOK_DELIVERY), dead_letter_queue_id(every_stage)
    )


def test_eventbridge_may_invoke_webhook_delivery_only_for_the_delivery_rule(every_stage: SynthesizedStage) -> None:
    rule_id, _ = rule_targeting(every_stage, WEBHOOK_DELIVERY)
    webhooks_id = function_resource(every_stage, WEBHOOK_DELIVERY)[0]
    (permission,) = [
        permission["Properties"]
        for permission in every_stage.resources_of_type("AWS::Lambda::Permission").values()
        if permission["Properties"]["FunctionName"] == {"Fn::GetAtt": [webhooks_id, "Arn"]}
    ]
    assert permission == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": [webhooks_id, "Arn"]},
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
    }


def test_the_dead_letter_queue_takes_eventbridge_messages_only_from_the_delivery_rule(
    every_stage: SynthesizedStage,
) -> None:
    rule_id, _ = rule_targeting(every_stage, WEBHOOK_DELIVERY)
    (allowed,) = [
        statement
        for statement in queue_policy_statements(every_stage, dead_letter_queue_id(every_stage))
        if statement["Effect"] == "Allow"
    ]
    assert allowed["Principal"] == {"Service": "events.amazonaws.com"}
    assert allowed["Action"] == "sqs:SendMessage"
    assert allowed["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


@pytest.mark.parametrize(("stage_name", "expression"), [("dev", "rate(15 minutes)"), ("prod", "rate(5 minutes)")])
def test_the_scheduler_runs_at_the_stage_rate_on_the_default_bus(
    stage_name: str, expression: str, request: pytest.FixtureRequest
) -> None:
    stage: SynthesizedStage = request.getfixturevalue(stage_name)
    rule_id, rule = rule_targeting(stage, SCHEDULER)
    assert rule["ScheduleExpression"] == expression
    assert "EventBusName" not in rule  # scheduled events come from the default bus
    assert "EventPattern" not in rule
    assert len(rule["Targets"]) == 1
    scheduler_id = function_resource(stage, SCHEDULER)[0]
    assert {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": [scheduler_id, "Arn"]},
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
    } in [permission["Properties"] for permission in stage.resources_of_type("AWS::Lambda::Permission").values()]


@pytest.mark.parametrize(("stage_name", "interval_seconds"), [("dev", 15 * 60), ("prod", 5 * 60)])
def test_a_tick_eventbridge_cannot_hand_to_the_scheduler_within_an_interval_is_dead_lettered(
    stage_name: str, interval_seconds: int, request: pytest.FixtureRequest
) -> None:
    stage: SynthesizedStage = request.getfixturevalue(stage_name)
    rule_id, rule = rule_targeting(stage, SCHEDULER)
    (target,) = rule["Targets"]
    # Older than an interval, a tick is stale: the next one does its work; the dead letter shows that one was missed.
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": interval_seconds}
    queue_id = scheduler_dead_letter_queue_id(stage)
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    (allowed,) = [statement for statement in queue_policy_statements(stage, queue_id) if statement["Effect"] == "Allow"]
    assert allowed["Principal"] == {"Service": "events.amazonaws.com"}
    assert allowed["Action"] == "sqs:SendMessage"
    assert allowed["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


def test_a_scheduled_run_that_fails_is_retried_twice_then_sent_to_the_scheduler_dead_letter_queue(
    every_stage: SynthesizedStage,
) -> None:
    # EventBridge invokes the scheduler asynchronously: without a destination, a run failing after Lambda's retries
    # would show only in the function's log.
    queue_id = scheduler_dead_letter_queue_id(every_stage)
    assert invoke_config_of(every_stage, SCHEDULER) == {
        "FunctionName": {"Ref": function_resource(every_stage, SCHEDULER)[0]},
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
    }
    assert actions_on(policy_statements(every_stage, SCHEDULER), queue_id) == DESTINATION_SEND_ACTIONS


def test_the_scheduler_and_webhook_delivery_have_dead_letter_queues_of_their_own(
    every_stage: SynthesizedStage,
) -> None:
    # A failed run is not mistaken for an undelivered event, and neither function may send to the other's queue.
    assert scheduler_dead_letter_queue_id(every_stage) != dead_letter_queue_id(every_stage)
    assert actions_on(policy_statements(every_stage, SCHEDULER), dead_letter_queue_id(every_stage)) == set()
    assert (
        actions_on(policy_statements(every_stage, WEBHOOK_DELIVERY), scheduler_dead_letter_queue_id(every_stage))
        == set()
    )


def test_only_the_delivery_rule_and_the_schedule_exist(every_stage: SynthesizedStage) -> None:
    # No other rule (on the bus or the default bus) sends events elsewhere.
    every_stage.template.resource_count_is("AWS::Events::Rule", 2)


def test_only_the_management_api_and_the_scheduler_may_put_events(every_stage: SynthesizedStage) -> None:
    publishers = {
        definition.name
        for definition in FUNCTIONS
        for statement in policy_statements(every_stage, definition)
        if {"events:PutEvents", "events:*"} & set(as_list(statement["Action"]))
    }
    assert publishers == {MANAGEMENT_API.name, SCHEDULER.name}
    for publisher in (MANAGEMENT_API, SCHEDULER):
        statements = policy_statements(every_stage, publisher)
        assert actions_on(statements, bus_id(every_stage)) == {"events:PutEvents"}
        # Their own bus only: not the default bus, not every bus.
        assert resources_of_statements_on(statements, bus_id(every_stage)) == [
            {"Fn::GetAtt": [bus_id(every_stage), "Arn"]}
        ]


def test_the_scheduler_queries_keys_due_by_schedule_reads_and_writes_keys_and_records_events(
    every_stage: SynthesizedStage,
) -> None:
    statements = policy_statements(every_stage, SCHEDULER)
    keys_id = table_logical_id(every_stage, KEYS_TABLE)
    expected = {
        KEYS_TABLE: {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        EVENTS_TABLE: {"dynamodb:PutItem"},
    }
    if every_stage.stack.gatekey.usage_plans:
        # With plans: the notice that an org's quota.exhausted went out this period, so it goes out once (§13).
        expected[DIRECTORY_TABLE] = {"dynamodb:PutItem"}
    for table in ALL_TABLES:
        assert actions_on(statements, table_logical_id(every_stage, table)) == expected.get(table, set()), table
    # The query reaches the schedule index alone; what it reads and writes by id is the table itself.
    keys_statements = [statement for statement in statements if keys_id in str(statement["Resource"])]
    assert {(frozenset(as_list(statement["Action"])), str(statement["Resource"])) for statement in keys_statements} == {
        (frozenset({"dynamodb:Query"}), str(index_arn(every_stage, KEYS_TABLE, "by_schedule"))),
        (
            frozenset({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}),
            str({"Fn::GetAtt": [keys_id, "Arn"]}),
        ),
    }


def test_the_scheduler_never_scans_and_only_encrypts(every_stage: SynthesizedStage) -> None:
    statements = policy_statements(every_stage, SCHEDULER)
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert not {action for action in actions if action in {"dynamodb:Scan", "dynamodb:*"}}
    key_id = secrets_key_id(every_stage)
    assert actions_on(statements, key_id) == {"kms:Encrypt"}
    # Its only queue is its own dead-letter queue, which Lambda sends failed runs to with the function's role.
    assert {action for action in actions if action.startswith("sqs:")} == DESTINATION_SEND_ACTIONS


def test_webhook_delivery_only_lists_an_orgs_webhooks_and_keeps_idempotency_records(
    every_stage: SynthesizedStage,
) -> None:
    statements = policy_statements(every_stage, WEBHOOK_DELIVERY)
    expected = {
        WEBHOOKS_TABLE: {"dynamodb:Query"},
        IDEMPOTENCY_TABLE: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
    }
    for table in ALL_TABLES:
        assert actions_on(statements, table_logical_id(every_stage, table)) == expected.get(table, set()), table
    # The `by_org` index, not the table: delivery cannot read a webhook by id, nor change one.
    webhooks_id = table_logical_id(every_stage, WEBHOOKS_TABLE)
    assert resources_of_statements_on(statements, webhooks_id) == [index_arn(every_stage, WEBHOOKS_TABLE, "by_org")]


def test_webhook_delivery_only_decrypts_and_publishes_nothing(every_stage: SynthesizedStage) -> None:
    statements = policy_statements(every_stage, WEBHOOK_DELIVERY)
    key_id = secrets_key_id(every_stage)
    assert actions_on(statements, key_id) == {"kms:Decrypt"}
    assert actions_on(statements, bus_id(every_stage)) == set()
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert not {action for action in actions if action.startswith("events:")}


@pytest.mark.parametrize("definition", [AUTHORIZER, LOG_INGEST, STORE_DEMO], ids=lambda definition: definition.name)
def test_function_has_no_business_with_events_webhooks_or_dead_letters(
    every_stage: SynthesizedStage, definition: LambdaFunction
) -> None:
    statements = policy_statements(every_stage, definition)
    for table in (EVENTS_TABLE, WEBHOOKS_TABLE):
        assert actions_on(statements, table_logical_id(every_stage, table)) == set(), table
    assert actions_on(statements, bus_id(every_stage)) == set()
    assert actions_on(statements, dead_letter_queue_id(every_stage)) == set()
    assert actions_on(statements, scheduler_dead_letter_queue_id(every_stage)) == set()
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert not {action for action in actions if action.startswith("events:")}


def test_the_stack_outputs_the_bus_name_and_the_dead_letter_queue_urls(dev: SynthesizedStage) -> None:
    outputs = dev.template_json["Outputs"]
    assert outputs["EventBusName"]["Value"] == {"Ref": bus_id(dev)}
    assert outputs["WebhookDeadLetterQueueUrl"]["Value"] == {"Ref": dead_letter_queue_id(dev)}
    assert outputs["SchedulerDeadLetterQueueUrl"]["Value"] == {"Ref": scheduler_dead_letter_queue_id(dev)}
