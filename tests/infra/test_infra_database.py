"""The synthesized tables and secrets key match ALL_TABLES and the stage's data-retention policy."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match
from stack_synthesis import SynthesizedStage, secret_mac_key_id, secrets_key_id

from gatekey.storage.sealing import kms_alias, secret_mac_alias
from gatekey.storage.tables import (
    ALL_TABLES,
    CONNECTIONS_TABLE,
    DIRECTORY_TABLE,
    KEYS_TABLE,
    WEBHOOKS_TABLE,
    TableDefinition,
    stage_table_names,
)


def key_schema(partition_key: str, sort_key: str | None) -> list[dict[str, str]]:
    return [
        {"AttributeName": partition_key, "KeyType": "HASH"},
        *([{"AttributeName": sort_key, "KeyType": "RANGE"}] if sort_key else []),
    ]


def expected_table_properties(definition: TableDefinition) -> dict[str, Any]:
    return {
        "KeySchema": key_schema(definition.partition_key, definition.sort_key),
        "AttributeDefinitions": Match.array_equals(
            [{"AttributeName": name, "AttributeType": "S"} for name in definition.key_attributes()]
        ),
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": key_schema(index.partition_key, index.sort_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in definition.indexes
        ]
        or Match.absent(),
        "TimeToLiveSpecification": {"AttributeName": definition.ttl_attribute, "Enabled": True}
        if definition.ttl_attribute
        else Match.absent(),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }


@pytest.mark.parametrize("definition", ALL_TABLES, ids=lambda definition: definition.logical_name)
def test_every_table_of_all_tables_is_deployed_with_its_keys_indexes_ttl_and_on_demand_billing(
    dev: SynthesizedStage, definition: TableDefinition
) -> None:
    dev.template.has_resource_properties("AWS::DynamoDB::Table", expected_table_properties(definition))


def test_the_stack_has_no_table_outside_all_tables(dev: SynthesizedStage) -> None:
    dev.template.resource_count_is("AWS::DynamoDB::Table", len(ALL_TABLES))


def test_tables_are_named_as_the_local_runtime_and_gatekey_bootstrap_name_them(every_stage: SynthesizedStage) -> None:
    names = {
        table["Properties"]["TableName"] for table in every_stage.resources_of_type("AWS::DynamoDB::Table").values()
    }
    assert names == set(stage_table_names(every_stage.stack.settings.stage).values())


def index_names(stage: SynthesizedStage, definition: TableDefinition) -> list[str]:
    (table,) = [
        table
        for table in stage.resources_of_type("AWS::DynamoDB::Table").values()
        if table["Properties"]["TableName"] == definition.physical_name(stage.stack.settings.stage)
    ]
    return [index["IndexName"] for index in table["Properties"].get("GlobalSecondaryIndexes", [])]


def test_connections_are_indexed_by_org_and_directory_orgs_by_partner(dev: SynthesizedStage) -> None:
    assert index_names(dev, CONNECTIONS_TABLE) == ["by_org"]
    assert index_names(dev, DIRECTORY_TABLE) == ["by_partner"]


def test_keys_are_indexed_by_org_and_by_schedule_and_webhooks_by_org(dev: SynthesizedStage) -> None:
    # The scheduler finds the keys with work due through `by_schedule` instead of scanning the table.
    assert index_names(dev, KEYS_TABLE) == ["by_org", "by_schedule"]
    assert index_names(dev, WEBHOOKS_TABLE) == ["by_org"]


def test_secrets_key_is_reachable_through_the_stage_alias(every_stage: SynthesizedStage) -> None:
    key_id = secrets_key_id(every_stage)
    every_stage.template.resource_count_is("AWS::KMS::Alias", 2)
    every_stage.template.has_resource_properties(
        "AWS::KMS::Alias",
        {"AliasName": kms_alias(every_stage.stack.settings.stage), "TargetKeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
    )


def test_secrets_key_rotates_automatically(every_stage: SynthesizedStage) -> None:
    every_stage.template.resource_count_is("AWS::KMS::Key", 2)
    assert every_stage.resources[secrets_key_id(every_stage)]["Properties"]["EnableKeyRotation"] is True


def test_the_pepper_is_an_hmac_key_reachable_through_its_stage_alias(every_stage: SynthesizedStage) -> None:
    key_id = secret_mac_key_id(every_stage)
    assert every_stage.resources[key_id]["Properties"]["KeyUsage"] == "GENERATE_VERIFY_MAC"
    every_stage.template.has_resource_properties(
        "AWS::KMS::Alias",
        {
            "AliasName": secret_mac_alias(every_stage.stack.settings.stage),
            "TargetKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
        },
    )


@pytest.mark.parametrize(
    "resource_type", ["AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::SQS::Queue"]
)
def test_prod_keeps_data_when_the_stack_is_deleted_and_dev_does_not(
    dev: SynthesizedStage, prod: SynthesizedStage, resource_type: str
) -> None:
    def deletion_policies(stage: SynthesizedStage) -> set[str]:
        return {
            resource.get("DeletionPolicy", "Delete") for resource in stage.resources_of_type(resource_type).values()
        }

    assert deletion_policies(prod) == {"Retain"}
    assert deletion_policies(dev) == {"Delete"}


def test_prod_tables_are_protected_against_deletion(prod: SynthesizedStage, dev: SynthesizedStage) -> None:
    def protections(stage: SynthesizedStage) -> set[bool]:
        return {
            table["Properties"]["DeletionProtectionEnabled"]
            for table in stage.resources_of_type("AWS::DynamoDB::Table").values()
        }

    assert protections(prod) == {True}
    assert protections(dev) == {False}
