"""Gatekey's Lambda functions (GATEKEY_FUNCTIONS), each with its own log group, role and least-privilege grants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import cast

from aws_cdk import Acknowledgment, CfnElement, Duration, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from gatekey.api_gateway import (
    AUTHORIZER,
    GATEKEY_FUNCTIONS,
    LOG_INGEST,
    MANAGEMENT_API,
    SCHEDULER,
    WEBHOOK_DELIVERY,
    LambdaFunction,
)
from gatekey.cdk.bundling import LAMBDA_ARCHITECTURE
from gatekey.cdk.database import Database
from gatekey.cdk.log_groups import stage_log_group
from gatekey.cdk.usage_plans import UsagePlans
from gatekey.settings import StageSettings
from gatekey.storage.tables import (
    CONNECTIONS_TABLE,
    DIRECTORY_TABLE,
    EVENTS_TABLE,
    IDEMPOTENCY_TABLE,
    KEYS_TABLE,
    NONCES_TABLE,
    REQUEST_LOGS_TABLE,
    WEBHOOKS_TABLE,
    TableDefinition,
)


@dataclass(frozen=True)
class FunctionSize:
    memory_mib: int
    timeout_seconds: int


# Sizes chosen from `make bench` (tests/bench/memory.py): each function's typical invocation, its CPU measured and
# scaled by 1769 MB / size (Lambda's share of a vCPU), plus its wait on AWS, priced at arm64's $0.0000133334 per
# GB-s + $0.20 per million requests. Figures are duration and $ per million invocations at 256 / 512 / 1024 MB.
FUNCTION_SIZES: dict[str, FunctionSize] = {
    # Every request of every protected API waits on it: 37 / 21 / 12 ms, $0.32 / 0.34 / 0.36. 1024 MB costs 12%
    # more than the cheapest size and gives a third of 256 MB's latency, and a cold start of 1.0 s instead of 2.
    AUTHORIZER.name: FunctionSize(memory_mib=1024, timeout_seconds=10),
    # People wait on it (the console, a partner's calls): creating a key 162 / 97 / 65 ms, $0.74 / 0.85 / 1.07; a
    # cold start takes 1.2 s at 1024 MB, 2.3 s at 512. Its volume is small next to the authorizer's.
    MANAGEMENT_API.name: FunctionSize(memory_mib=1024, timeout_seconds=28),
    # Nobody waits on it, but a delivery must finish within its timeout: 1000 lines take 4.2 / 2.3 / 1.4 s,
    # $14.1 / 15.7 / 19.0. At 512 MB a delivery of 10,000 lines (~23 s) fits 60 s; 128 MB (7.9 s a 1000) would not.
    LOG_INGEST.name: FunctionSize(memory_mib=512, timeout_seconds=60),
    # Nobody waits on it: a run rotating 10 keys takes 2.0 / 1.2 / 0.8 s, $6.9 / 8.2 / 10.8 per million runs. 512 MB
    # is 24% cheaper than 1024 and rotates some 2,500 keys within the 300 s a run may take.
    SCHEDULER.name: FunctionSize(memory_mib=512, timeout_seconds=300),
    # Mostly waits on receivers (billed at any size): one delivery 504 / 274 / 159 ms, $1.88 / 2.03 / 2.32. 512 MB
    # costs 8% more than 256 and halves a delivery and a cold start (5.9 s at 256 MB: the first events of a quiet
    # hour would arrive late). Up to 10 webhooks per org, each given `webhook_timeout_seconds` (10 s), fit 120 s.
    WEBHOOK_DELIVERY.name: FunctionSize(memory_mib=512, timeout_seconds=120),
}

# No SnapStart (issue 14). Lambda offers it from python3.12 (arm64 too) and only on published versions, while the
# functions run the Python that bundles them (3.11 today). For Python it is billed: at us-east-1 list prices about
# $0.0000015 per GB-second cached, per published version (some $3.90 a month for a 1 GB function), and $0.00014 per
# GB restored. It would save little: with the bundle's bytecode, `make bench` imports the authorizer in 0.44 s on a
# 2-core x86-64 machine (0.60 s without bytecode), 0.32 s of which `import boto3` and a DynamoDB client take anyway,
# and the management API in 0.55 s (1.03 s); a restore costs time too ("as low as sub-second", says AWS). And every
# environment restored from one snapshot shares what init created: the authorizer's random digest key
# (SecretVerifier) would have to be drawn again after each restore. Worth measuring again once the functions run
# 3.12+, if CloudWatch shows the management API's init above a second.


class GatekeyFunction(Construct):
    """One function running a handler of the Gatekey bundle, with its own log group and a role that may write to
    that group and nothing else (grants come on top); traced with X-Ray."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: LambdaFunction,
        code: lambda_.Code,
        runtime: lambda_.Runtime,
        environment: Mapping[str, str],
        settings: StageSettings,
        size: FunctionSize,
    ) -> None:
        super().__init__(scope, construct_id)
        self.definition = definition
        self.log_group: logs.LogGroup = stage_log_group(self, "Logs", settings=settings)
        # An own role instead of AWSLambdaBasicExecutionRole: it may write to its own log group and nothing else.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Gatekey {settings.stage}: {definition.description}",
        )
        self.log_group.grant_write(self.role)
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords "
                "support no resource-level permissions",
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=definition.description,
            handler=definition.handler,
            code=code,
            runtime=runtime,
            architecture=LAMBDA_ARCHITECTURE,
            memory_size=size.memory_mib,
            timeout=Duration.seconds(size.timeout_seconds),
            environment=dict(environment),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=f"{runtime.name} on purpose: the runtime is the Python that bundled the code "
                "(gatekey.cdk.bundling), whose wheels and bytecode are for that version",
            )
        )


class Functions(Construct):
    """Gatekey's functions, keyed by their GATEKEY_FUNCTIONS name, all running the same code asset."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        database: Database,
        code: lambda_.Code,
        runtime: lambda_.Runtime,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.members: dict[str, GatekeyFunction] = {
            definition.name: GatekeyFunction(
                self,
                _construct_id(definition),
                definition=definition,
                code=code,
                runtime=runtime,
                environment=environment,
                settings=settings,
                size=FUNCTION_SIZES[definition.name],
            )
            for definition in GATEKEY_FUNCTIONS
        }
        self.functions: dict[str, lambda_.Function] = {name: member.function for name, member in self.members.items()}
        self.roles: dict[str, iam.Role] = {name: member.role for name, member in self.members.items()}
        self._grant(database)

    def function(self, definition: LambdaFunction) -> lambda_.Function:
        return self.functions[definition.name]

    def _grant(self, database: Database) -> None:
        authorizer = self.function(AUTHORIZER)
        keys_table = database.table(KEYS_TABLE)
        # The authorizer reads the presented key by id and records its last_used_at; it never lists,
        # creates or deletes keys.
        authorizer.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[keys_table.table_arn])
        )
        # Checking an X-Connection-Token is one strongly consistent GetItem by connection id, nothing more.
        authorizer.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[database.table(CONNECTIONS_TABLE).table_arn])
        )
        # Accepting a nonce is one conditional PutItem; the authorizer never reads or deletes nonces.
        authorizer.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[database.table(NONCES_TABLE).table_arn])
        )
        # Decrypting HMAC secrets only: the authorizer cannot seal (mint) a secret.
        database.secrets_key.grant(authorizer, "kms:Decrypt")
        # Peppering a presented secret before checking it: the pepper is this key's HMAC, asked for once per container.
        database.secret_mac_key.grant(authorizer, "kms:GenerateMac")

        management_api = self.function(MANAGEMENT_API)
        api_tables = MANAGEMENT_API_READ_WRITE_TABLES
        for definition in api_tables:
            database.table(definition).grant_read_write_data(management_api)
        # Request logs are written by log ingest alone; the API lists them by org or key, never scans them.
        database.table(REQUEST_LOGS_TABLE).grant(management_api, "dynamodb:GetItem", "dynamodb:Query")
        # Events are history: the API records those it publishes and lists an org's; it never edits or deletes
        # one (the table's TTL expires them).
        database.table(EVENTS_TABLE).grant(management_api, "dynamodb:PutItem", "dynamodb:Query")
        # Exactly what storing and revealing a secret takes; not the ReEncrypt*/GenerateDataKey* wildcards.
        database.secrets_key.grant(management_api, "kms:Encrypt", "kms:Decrypt")
        database.secret_mac_key.grant(management_api, "kms:GenerateMac")  # peppering new secrets before hashing
        _acknowledge_index_grants(
            self.roles[MANAGEMENT_API.name], database, (*api_tables, REQUEST_LOGS_TABLE, EVENTS_TABLE)
        )

        log_ingest = self.function(LOG_INGEST)
        # Storing a batch of request-log entries, and stamping last_used_at on the keys they name: no reads,
        # no deletes (the table's TTL expires entries), no other table, no KMS.
        log_ingest.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:BatchWriteItem"], resources=[database.table(REQUEST_LOGS_TABLE).table_arn]
            )
        )
        log_ingest.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[keys_table.table_arn])
        )

        scheduler = self.function(SCHEDULER)
        # Finding the keys with work due is a query on the sparse `by_schedule` index, never a scan; each key
        # is then read again by id, and a rotation is put back, a notice or an expiry recorded by an update.
        # Nothing is deleted, and no other index or table of keys is listed.
        scheduler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[_index_arn(keys_table, KEYS_TABLE, "by_schedule")]
            )
        )
        scheduler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                resources=[keys_table.table_arn],
            )
        )
        # Recording the events it announces (key.rotated, key.expiring, key.expired) for `GET /v1/events`.
        scheduler.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[database.table(EVENTS_TABLE).table_arn])
        )
        # Sealing a rotated key's new token, so that it can be revealed later; the scheduler never reveals one.
        database.secrets_key.grant(scheduler, "kms:Encrypt")
        database.secret_mac_key.grant(scheduler, "kms:GenerateMac")  # peppering a rotated key's new secret

        webhook_delivery = self.function(WEBHOOK_DELIVERY)
        webhooks_table = database.table(WEBHOOKS_TABLE)
        # The org's webhooks, listed through `by_org`; delivery never changes a webhook or reads one by id.
        webhook_delivery.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[_index_arn(webhooks_table, WEBHOOKS_TABLE, "by_org")]
            )
        )
        # Powertools idempotency records of which webhooks already took an event, so a retried delivery skips
        # them: create, read, complete and, when a delivery fails, delete a record.
        webhook_delivery.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                resources=[database.table(IDEMPOTENCY_TABLE).table_arn],
            )
        )
        # Unsealing webhook secrets (to sign) and sealed event fields (to send them); it seals nothing.
        database.secrets_key.grant(webhook_delivery, "kms:Decrypt")

    def grant_event_publishing(self, event_bus: events.IEventBus) -> None:
        """The functions that announce domain events may put them on the bus: the API (what callers do) and the
        scheduler (rotations, expiry notices, expiries). Webhook delivery only receives them; the authorizer and
        log ingest have nothing to announce."""
        for publisher in (MANAGEMENT_API, SCHEDULER):
            event_bus.grant_put_events_to(self.function(publisher))

    def grant_usage_plans(self, usage_plans: UsagePlans, database: Database) -> None:
        """DESIGN §13, exactly the calls storage/usage_plans.py makes. The API creates the API Gateway keys of orgs
        and of keys with a plan of their own (finding them by name), puts each into its plan's usage plans (moving
        them when the plan changes), deletes them, and reads usage for `GET /v1/usage`; the scheduler reads usage,
        finds whose key used up a quota (the key's name), and records the notice so it goes out once. Both find the
        usage plans by name, and reach only this stage's. The authorizer only names a key in its answer, which needs
        no permission."""
        stack = Stack.of(self)

        def arn(path: str) -> str:  # API Gateway's resources of the stack's region, by path
            return f"arn:{stack.partition}:apigateway:{stack.region}::{path}"

        plan_ids = [usage_plan.usage_plan_id for usage_plan in usage_plans.all()]
        reading = [
            iam.PolicyStatement(
                actions=["apigateway:GET"],
                resources=[
                    arn("/usageplans"),
                    arn("/apikeys/*"),
                    *(arn(f"/usageplans/{id_}/usage") for id_ in plan_ids),
                ],
            )
        ]
        scheduler_policy = iam.Policy(
            self,
            "SchedulerUsagePlansPolicy",
            roles=[self.roles[SCHEDULER.name]],
            statements=[
                *reading,
                iam.PolicyStatement(
                    actions=["dynamodb:PutItem"], resources=[database.table(DIRECTORY_TABLE).table_arn]
                ),
            ],
        )
        # Policies of their own rather than the roles' default ones, which the functions wait for: the usage plans
        # cover the management API's stage, whose deployment waits for its function, so naming them there would be
        # a cycle.
        policy = iam.Policy(
            self,
            "ApiUsagePlansPolicy",
            roles=[self.roles[MANAGEMENT_API.name]],
            statements=[
                *reading,
                iam.PolicyStatement(actions=["apigateway:GET", "apigateway:POST"], resources=[arn("/apikeys")]),
                iam.PolicyStatement(actions=["apigateway:DELETE"], resources=[arn("/apikeys/*")]),
                iam.PolicyStatement(
                    actions=["apigateway:POST"], resources=[arn(f"/usageplans/{id_}/keys") for id_ in plan_ids]
                ),
                iam.PolicyStatement(
                    actions=["apigateway:DELETE"], resources=[arn(f"/usageplans/{id_}/keys/*") for id_ in plan_ids]
                ),
            ],
        )
        api_keys = Acknowledgment(
            id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/apikeys/*]",
            reason="API Gateway keys are created at run time (an org's, or a key's with a plan of its own): "
            "their ids are unknown at synthesis",
        )
        Validations.of(policy).acknowledge(
            api_keys,
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/usageplans/"
                    f"<{_logical_id(usage_plan)}>/keys/*]",
                    reason="The API Gateway keys in this usage plan, added at run time: ids unknown at synthesis",
                )
                for usage_plan in usage_plans.all()
            ),
        )
        Validations.of(scheduler_policy).acknowledge(api_keys)


def _construct_id(definition: LambdaFunction) -> str:
    return "".join(part.title() for part in definition.name.split("_")) + "Function"


def _logical_id(construct: Construct) -> str:
    stack = Stack.of(construct)
    logical_id: str = stack.resolve(stack.get_logical_id(cast(CfnElement, construct.node.default_child)))
    return logical_id


# The tables the management API reads and writes as a whole, named one by one: a table added to storage/tables.py is
# granted to no function until it is listed where a function uses it (request logs and events get narrower grants).
MANAGEMENT_API_READ_WRITE_TABLES: tuple[TableDefinition, ...] = (
    KEYS_TABLE,
    DIRECTORY_TABLE,
    IDEMPOTENCY_TABLE,
    CONNECTIONS_TABLE,
    WEBHOOKS_TABLE,
)


def _index_arn(table: dynamodb.Table, definition: TableDefinition, index_name: str) -> str:
    """One GSI's ARN, for a grant that reaches that index and no other; the index must be in the definition."""
    if index_name not in {index.name for index in definition.indexes}:
        raise ValueError(f"the {definition.logical_name} table has no index {index_name!r}")
    return f"{table.table_arn}/index/{index_name}"


def _acknowledge_index_grants(role: iam.Role, database: Database, granted: Iterable[TableDefinition]) -> None:
    """DynamoDB grants reach a table's GSIs through `<table arn>/index/*`, a wildcard that stays inside the table."""
    for definition in granted:
        if not definition.indexes:
            continue
        logical_id = _logical_id(database.table(definition))
        Validations.of(role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/index/*]",
                reason=f"Queries on the GSIs of the {definition.logical_name} table, e.g. listing an org's keys",
            )
        )
