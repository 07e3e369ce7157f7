"""Every DynamoDB table Gatekey uses, defined once for the CDK stack, the local runtime and the tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True)
class TableDefinition:
    """Key schema, indexes and TTL of one table; the deployed name arrives through `env_var`."""

    logical_name: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[Index, ...] = field(default=())
    ttl_attribute: str | None = None

    @property
    def env_var(self) -> str:
        return f"GATEKEY_{self.logical_name.upper()}_TABLE"

    def physical_name(self, stage: str) -> str:
        """The table's name in a stage: the CDK stack, `gatekey serve` and `gatekey bootstrap` all use it."""
        return f"gatekey-{stage}-{self.logical_name}"

    def name(self) -> str:
        """The deployed table's name, from the function's environment."""
        return os.environ[self.env_var]

    def key_attributes(self) -> list[str]:
        names = [self.partition_key, *([self.sort_key] if self.sort_key else [])]
        for index in self.indexes:
            names += [index.partition_key, *([index.sort_key] if index.sort_key else [])]
        return list(dict.fromkeys(names))

    def create_table_arguments(self, table_name: str) -> dict[str, Any]:
        """Arguments for boto3's `create_table`, as the local runtime and tests create it."""

        def key_schema(partition: str, sort: str | None) -> list[dict[str, str]]:
            schema = [{"AttributeName": partition, "KeyType": "HASH"}]
            return schema + ([{"AttributeName": sort, "KeyType": "RANGE"}] if sort else [])

        arguments: dict[str, Any] = {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": key_schema(self.partition_key, self.sort_key),
            "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in self.key_attributes()],
        }
        if self.indexes:
            arguments["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": key_schema(index.partition_key, index.sort_key),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in self.indexes
            ]
        return arguments


# One item per API key, read by key id on every authorized request (the authorizer's one read).
# `by_schedule` is sparse: only keys with scheduled work pending (a rotation, an expiry notice, the expiry
# itself) carry `schedule_bucket` and `next_due_at`, so the scheduler queries what is due instead of scanning.
# Console sessions are keys too (of type `session`): only they carry `purge_at`, which TTL deletes them by.
PURGE_ATTRIBUTE = "purge_at"
KEYS_TABLE = TableDefinition(
    logical_name="keys",
    partition_key="key_id",
    indexes=(
        Index(name="by_org", partition_key="org_id", sort_key="created_sort"),
        Index(name="by_schedule", partition_key="schedule_bucket", sort_key="next_due_at"),
    ),
    ttl_attribute=PURGE_ATTRIBUTE,
)
SCHEDULE_BUCKET = "keys"  # the one value of `schedule_bucket`
# Organisations and their users: pk ORG#<org id>; sk ORG for the org itself, USER#<user id> for users,
# EMAIL#<lower-case email> to keep emails unique within an org, SIGNIN#<lower-case email> counting recent failed
# sign-ins (TTL `purge_at` deletes them). `by_partner` lists the orgs a partner created (only those items carry
# `partner_id`, so the index holds nothing else).
DIRECTORY_TABLE = TableDefinition(
    logical_name="directory",
    partition_key="pk",
    sort_key="sk",
    indexes=(Index(name="by_partner", partition_key="partner_id", sort_key="created_sort"),),
    ttl_attribute=PURGE_ATTRIBUTE,
)
USER_SORT_PREFIX = "USER#"


def org_item_key(org_id: str) -> dict[str, str]:
    return {"pk": f"ORG#{org_id}", "sk": "ORG"}


def user_item_key(org_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"ORG#{org_id}", "sk": f"{USER_SORT_PREFIX}{user_id}"}


def quota_notice_item_key(org_id: str, subject: str, period_start: datetime) -> dict[str, str]:
    """The quota.exhausted notice of one API Gateway key's subject (the org, or a key with its own plan) for one
    quota period: its existence is the notice having gone out."""
    return {"pk": f"ORG#{org_id}", "sk": f"QUOTA#{subject}#{period_start.date().isoformat()}"}


def sign_in_failures_item_key(org_id: str, email: str) -> dict[str, str]:
    return {"pk": f"ORG#{org_id}", "sk": f"SIGNIN#{email.lower()}"}


def user_email_item_key(org_id: str, email: str) -> dict[str, str]:
    return {"pk": f"ORG#{org_id}", "sk": f"EMAIL#{email.lower()}"}


# The marker `gatekey bootstrap` writes once per stage, so a second run cannot create a second first org.
BOOTSTRAP_ITEM_KEY = {"pk": "BOOTSTRAP", "sk": "BOOTSTRAP"}


# Powertools idempotency records (attribute names are Powertools' defaults).
IDEMPOTENCY_TABLE = TableDefinition(logical_name="idempotency", partition_key="id", ttl_attribute="expiration")

# HMAC nonces already accepted, one item per (key id, nonce), kept until the request's timestamp leaves
# the clock window.
NONCE_EXPIRY_ATTRIBUTE = "expires_at"  # epoch seconds
NONCES_TABLE = TableDefinition(logical_name="nonces", partition_key="nonce_id", ttl_attribute=NONCE_EXPIRY_ATTRIBUTE)


def nonce_item_key(key_id: str, nonce: str) -> dict[str, str]:
    return {"nonce_id": f"{key_id}#{nonce}"}


# One item per logged request, under its org, newest last in `log_sort` (`<request time ISO>#<request id>`);
# `by_key` serves the key_id filter. `expires_at` (epoch seconds) is the request time plus the retention.
LOG_EXPIRY_ATTRIBUTE = "expires_at"
REQUEST_LOGS_TABLE = TableDefinition(
    logical_name="request_logs",
    partition_key="org_id",
    sort_key="log_sort",
    indexes=(Index(name="by_key", partition_key="key_id", sort_key="log_sort"),),
    ttl_attribute=LOG_EXPIRY_ATTRIBUTE,
)

# Connections (DESIGN §1, Panora): one item per connection, read by id when a request carries its token;
# `by_org` lists an org's connections newest first (`created_sort` = `<created ISO>#<connection id>`).
CONNECTIONS_TABLE = TableDefinition(
    logical_name="connections",
    partition_key="connection_id",
    indexes=(Index(name="by_org", partition_key="org_id", sort_key="created_sort"),),
)

# Domain events (DESIGN §8) for `GET /v1/events`: under their org, newest last in `event_sort`
# (`<created ISO>#<event id>`); `expires_at` (epoch seconds) is the creation time plus the retention.
EVENT_EXPIRY_ATTRIBUTE = "expires_at"
EVENTS_TABLE = TableDefinition(
    logical_name="events",
    partition_key="org_id",
    sort_key="event_sort",
    ttl_attribute=EVENT_EXPIRY_ATTRIBUTE,
)

# Webhook endpoints: one item per webhook, its signing secret sealed with KMS; `by_org` lists an org's
# webhooks (for the API, and for delivery, which sends each event to the org's subscribed webhooks).
# Beside them, one counter item per org (`COUNT#<org id>`, `webhook_count`) that creation and deletion update in
# the same transaction as the webhook, so the per-org limit holds under parallel creates; it carries no
# `org_id`, so `by_org` never lists it, and no webhook id (`whk_…`) can collide with it.
WEBHOOKS_TABLE = TableDefinition(
    logical_name="webhooks",
    partition_key="webhook_id",
    indexes=(Index(name="by_org", partition_key="org_id", sort_key="created_sort"),),
)


def webhook_count_item_key(org_id: str) -> dict[str, str]:
    return {"webhook_id": f"COUNT#{org_id}"}


ALL_TABLES: tuple[TableDefinition, ...] = (
    KEYS_TABLE,
    DIRECTORY_TABLE,
    IDEMPOTENCY_TABLE,
    NONCES_TABLE,
    REQUEST_LOGS_TABLE,
    CONNECTIONS_TABLE,
    EVENTS_TABLE,
    WEBHOOKS_TABLE,
)


def stage_table_names(stage: str) -> dict[str, str]:
    """Environment variable → table name for every table of a stage, as the functions are configured."""
    return {table.env_var: table.physical_name(stage) for table in ALL_TABLES}
