"""The synthesized alarms: one per failure queue (anything waiting there is work that failed) and one per API stage
(any 5xx), without actions unless the provider gives Gatekey an alarm topic (see test_protection.py)."""

from __future__ import annotations

from typing import Any

import pytest
from stack_synthesis import SynthesizedStage, logical_id

ANY_IN_FIVE_MINUTES = {
    "Period": 300,
    "EvaluationPeriods": 1,
    "Threshold": 0,
    "ComparisonOperator": "GreaterThanThreshold",
    "TreatMissingData": "notBreaching",
}


def alarm(stage: SynthesizedStage, alarm_construct: Any) -> dict[str, Any]:
    properties: dict[str, Any] = stage.resources[logical_id(stage, alarm_construct)]["Properties"]
    return properties


def queue_alarm(stage: SynthesizedStage, queue: Any) -> dict[str, Any]:
    return {
        **ANY_IN_FIVE_MINUTES,
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Statistic": "Maximum",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [logical_id(stage, queue), "QueueName"]}}],
    }


def server_errors_alarm(stage: SynthesizedStage, api: Any) -> dict[str, Any]:
    return {
        **ANY_IN_FIVE_MINUTES,
        "Namespace": "AWS/ApiGateway",
        "MetricName": "5XXError",
        "Statistic": "Sum",
        "Dimensions": [
            {"Name": "ApiName", "Value": api.rest_api_name},
            {"Name": "Stage", "Value": {"Ref": logical_id(stage, api.deployment_stage)}},
        ],
    }


def metric_of(properties: dict[str, Any]) -> dict[str, Any]:
    """What an alarm watches and when it fires, without its description and tags."""
    return {key: value for key, value in properties.items() if key not in {"AlarmDescription", "Tags"}}


@pytest.fixture(params=["dev", "prod"])
def stage(request: pytest.FixtureRequest) -> SynthesizedStage:
    synthesized: SynthesizedStage = request.getfixturevalue(request.param)
    return synthesized


def test_anything_in_the_log_ingest_failure_queue_raises_an_alarm(stage: SynthesizedStage) -> None:
    gatekey = stage.stack.gatekey
    properties = alarm(stage, gatekey.log_ingest_failures_alarm)
    assert metric_of(properties) == queue_alarm(stage, gatekey.log_ingest_failure_queue)
    # The alarm tells the operator what to run.
    assert f"gatekey redrive-logs --stage {stage.stack.settings.stage}" in properties["AlarmDescription"]


def test_anything_in_the_webhook_dead_letter_queue_raises_an_alarm(stage: SynthesizedStage) -> None:
    gatekey = stage.stack.gatekey
    assert metric_of(alarm(stage, gatekey.webhook_dead_letters_alarm)) == queue_alarm(
        stage, gatekey.webhook_dead_letter_queue
    )


def test_anything_in_the_scheduler_dead_letter_queue_raises_an_alarm(stage: SynthesizedStage) -> None:
    gatekey = stage.stack.gatekey
    assert metric_of(alarm(stage, gatekey.scheduler_dead_letters_alarm)) == queue_alarm(
        stage, gatekey.scheduler_dead_letter_queue
    )


def test_any_5xx_of_the_management_api_stage_raises_an_alarm(stage: SynthesizedStage) -> None:
    gatekey = stage.stack.gatekey
    assert metric_of(alarm(stage, gatekey.management_api_server_errors_alarm)) == server_errors_alarm(
        stage, gatekey.management_api
    )
    assert gatekey.management_api.rest_api_name == f"gatekey-{stage.stack.settings.stage}"


def test_any_5xx_of_a_protected_api_stage_raises_an_alarm(stage: SynthesizedStage) -> None:
    store_api = stage.stack.store_api
    protection = stage.stack.store_api_protection
    assert metric_of(alarm(stage, protection.server_errors_alarm)) == server_errors_alarm(stage, store_api)
    assert store_api.rest_api_name == f"gatekey-{stage.stack.settings.stage}-store-demo"


def test_the_construct_lists_every_alarm_and_the_stack_has_no_other(stage: SynthesizedStage) -> None:
    listed = {logical_id(stage, listed_alarm) for listed_alarm in stage.stack.gatekey.alarms}
    assert len(listed) == 5
    assert set(stage.resources_of_type("AWS::CloudWatch::Alarm")) == listed


def test_without_an_alarm_topic_the_alarms_notify_no_one(stage: SynthesizedStage) -> None:
    for properties in stage.resources_of_type("AWS::CloudWatch::Alarm").values():
        assert not {"AlarmActions", "OKActions", "InsufficientDataActions"} & set(properties["Properties"])
