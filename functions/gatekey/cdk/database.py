"""The DynamoDB tables of ALL_TABLES, the KMS key that encrypts recoverable and HMAC secrets, and the KMS HMAC key
that peppers API-key secret hashes."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from gatekey.cdk.log_groups import removal_policy
from gatekey.settings import StageSettings
from gatekey.storage.sealing import kms_alias, secret_mac_alias
from gatekey.storage.tables import ALL_TABLES, TableDefinition


class Database(Construct):
    """Every table Gatekey uses, built from the definitions the local runtime also creates its tables from."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings) -> None:
        super().__init__(scope, construct_id)
        # Losing this key makes every stored ciphertext unreadable, so it follows the data's removal policy.
        # Its alias, like the tables' names, is fixed per stage so `gatekey bootstrap` finds them by stage alone.
        self.secrets_key = kms.Key(
            self,
            "SecretsKey",
            description=f"Gatekey {settings.stage}: encrypts HMAC and recoverable API key secrets",
            alias=kms_alias(settings.stage),
            enable_key_rotation=True,
            removal_policy=removal_policy(settings),
        )
        # The pepper of API-key secret hashes (storage/sealing.py: KmsPepper) is this key's HMAC of a fixed message:
        # it never leaves KMS, so a reader of the keys table cannot check a guess. Losing it makes every stored
        # secret hash unverifiable, so it follows the data's removal policy too. KMS rotates no HMAC key.
        self.secret_mac_key = kms.Key(
            self,
            "SecretMacKey",
            description=f"Gatekey {settings.stage}: peppers API key secret hashes (HMAC)",
            alias=secret_mac_alias(settings.stage),
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            removal_policy=removal_policy(settings),
        )
        Validations.of(self.secret_mac_key).acknowledge(
            Acknowledgment(
                id="AwsSolutions-KMS5",
                reason="KMS does not rotate HMAC keys; rotating the pepper would make every stored secret hash "
                "unverifiable, and the key never leaves KMS",
            )
        )
        self.tables: dict[str, dynamodb.Table] = {
            definition.logical_name: self._table(definition, settings) for definition in ALL_TABLES
        }

    def table(self, definition: TableDefinition) -> dynamodb.Table:
        return self.tables[definition.logical_name]

    def _table(self, definition: TableDefinition, settings: StageSettings) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"{definition.logical_name.title()}Table",
            table_name=definition.physical_name(settings.stage),
            partition_key=_string_attribute(definition.partition_key),
            sort_key=_string_attribute(definition.sort_key) if definition.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=definition.ttl_attribute,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=settings.retain_data_on_delete,
            removal_policy=removal_policy(settings),
        )
        for index in definition.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string_attribute(index.partition_key),
                sort_key=_string_attribute(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table


def _string_attribute(name: str) -> dynamodb.Attribute:
    # Every key attribute of ALL_TABLES is a string (see TableDefinition.create_table_arguments).
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)
