"""The synthesized Lambda functions: handlers, runtime, environment, logs and least-privilege permissions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from stack_synthesis import (
    CACHED_AUTHORIZER_TTL_SECONDS,
    SynthesizedStage,
    actions_on,
    as_list,
    asset_dir,
    function_resource,
    policy_statements,
    secret_mac_key_id,
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
from gatekey.cdk.bundling import CONFIGURATION_FILE_NAME
from gatekey.cdk.functions import FUNCTION_SIZES, MANAGEMENT_API_READ_WRITE_TABLES, FunctionSize
from gatekey.configuration import CONFIG_FILE_ENV_VAR, load_configuration
from gatekey.domain.webhooks import MAX_WEBHOOKS_PER_ORG
from gatekey.settings import CONSOLE_URL_ENV_VAR, STAGES
from gatekey.storage.tables import (
    ALL_TABLES,
    CONNECTIONS_TABLE,
    DIRECTORY_TABLE,
    EVENTS_TABLE,
    IDEMPOTENCY_TABLE,
    KEYS_TABLE,
    NONCES_TABLE,
    REQUEST_LOGS_TABLE,
    WEBHOOKS_TABLE,
)
from infra.build_lambda import build_lambda
from infra.stack import STORE_DEMO_SIZE

SIZES: dict[str, FunctionSize] = {**FUNCTION_SIZES, STORE_DEMO.name: STORE_DEMO_SIZE}
# Every function runs the Python that bundled it (gatekey.cdk.bundling): here, the one running the tests.
BUILDING_PYTHON_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"

WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem"}


def test_there_is_one_function_per_functions_entry(dev: SynthesizedStage) -> None:
    dev.template.resource_count_is("AWS::Lambda::Function", len(FUNCTIONS))


@pytest.mark.parametrize("definition", FUNCTIONS, ids=lambda definition: definition.name)
def test_function_runs_its_handler_on_the_building_python_on_arm64_with_tracing(
    dev: SynthesizedStage, definition: LambdaFunction
) -> None:
    properties = function_resource(dev, definition)[1]["Properties"]
    assert properties["Runtime"] == BUILDING_PYTHON_RUNTIME
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["MemorySize"] == SIZES[definition.name].memory_mib
    assert properties["Timeout"] == SIZES[definition.name].timeout_seconds


def test_the_scheduler_has_the_memory_to_hash_and_minutes_to_work_through_every_key_due(dev: SynthesizedStage) -> None:
    # argon2id hashes each rotated key's new secret; one run rotates, notices and expires every key due.
    properties = function_resource(dev, SCHEDULER)[1]["Properties"]
    assert (properties["MemorySize"], properties["Timeout"]) == (512, 300)


def test_webhook_delivery_outlasts_every_webhook_of_an_org_timing_out(every_stage: SynthesizedStage) -> None:
    # Webhooks are posted to one after the other: an org whose receivers all hang waits each one's full timeout.
    properties = function_resource(every_stage, WEBHOOK_DELIVERY)[1]["Properties"]
    slowest_delivery = MAX_WEBHOOKS_PER_ORG * every_stage.stack.settings.webhook_timeout_seconds
    assert properties["Timeout"] > slowest_delivery
    assert properties["MemorySize"] == 512


@pytest.mark.parametrize("definition", FUNCTIONS, ids=lambda definition: definition.name)
def test_function_learns_table_names_key_id_and_stage_settings_from_its_environment(
    dev: SynthesizedStage, definition: LambdaFunction
) -> None:
    variables = function_resource(dev, definition)[1]["Properties"]["Environment"]["Variables"]
    for table in ALL_TABLES:
        assert variables[table.env_var] == {"Ref": table_logical_id(dev, table)}
    key_id = secrets_key_id(dev)
    assert variables["GATEKEY_KMS_KEY_ID"] == {"Ref": key_id}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "gatekey"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Gatekey"
    assert STAGES["dev"].as_environment().items() <= variables.items()


@pytest.mark.parametrize(("stage_name", "prefix"), [("dev", "gk_test"), ("prod", "gk_live")])
def test_token_prefix_follows_the_stage(stage_name: str, prefix: str, request: pytest.FixtureRequest) -> None:
    stage: SynthesizedStage = request.getfixturevalue(stage_name)
    for definition in FUNCTIONS:
        variables = function_resource(stage, definition)[1]["Properties"]["Environment"]["Variables"]
        assert variables["GATEKEY_TOKEN_PREFIX"] == prefix
        assert variables["GATEKEY_STAGE"] == stage_name


@pytest.mark.parametrize("definition", FUNCTIONS, ids=lambda definition: definition.name)
def test_function_logs_to_its_own_log_group_kept_for_the_stage_retention(
    prod: SynthesizedStage, definition: LambdaFunction
) -> None:
    log_group_id = function_resource(prod, definition)[1]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = prod.resources[log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == STAGES["prod"].log_retention_days
    assert actions_on(policy_statements(prod, definition), log_group_id) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_no_function_role_carries_a_managed_policy(dev: SynthesizedStage) -> None:
    for definition in FUNCTIONS:
        role_id = function_resource(dev, definition)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert "ManagedPolicyArns" not in dev.resources[role_id]["Properties"]


def test_authorizer_gets_and_updates_only_keys_and_only_decrypts(dev: SynthesizedStage) -> None:
    statements = policy_statements(dev, AUTHORIZER)
    # A key by id, and its last_used_at: no listing (Query, Scan) and no index.
    assert actions_on(statements, table_logical_id(dev, KEYS_TABLE)) == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert actions_on(statements, table_logical_id(dev, DIRECTORY_TABLE)) == set()
    assert actions_on(statements, table_logical_id(dev, IDEMPOTENCY_TABLE)) == set()
    key_id = secrets_key_id(dev)
    assert actions_on(statements, key_id) == {"kms:Decrypt"}


def test_only_the_functions_that_hash_or_check_secrets_may_pepper_them(dev: SynthesizedStage) -> None:
    mac_key = secret_mac_key_id(dev)
    for definition in FUNCTIONS:
        expected = {"kms:GenerateMac"} if definition in (AUTHORIZER, MANAGEMENT_API, SCHEDULER) else set()
        assert actions_on(policy_statements(dev, definition), mac_key) == expected, definition.name


def test_authorizer_may_only_put_nonces(dev: SynthesizedStage) -> None:
    statements = policy_statements(dev, AUTHORIZER)
    assert actions_on(statements, table_logical_id(dev, NONCES_TABLE)) == {"dynamodb:PutItem"}


def test_authorizer_may_only_get_a_connection_by_id(every_stage: SynthesizedStage) -> None:
    statements = policy_statements(every_stage, AUTHORIZER)
    connections_id = table_logical_id(every_stage, CONNECTIONS_TABLE)
    assert actions_on(statements, connections_id) == {"dynamodb:GetItem"}
    # The table itself, not its `by_org` index: listing an org's connections is the management API's job.
    assert [statement["Resource"] for statement in statements if connections_id in str(statement["Resource"])] == [
        {"Fn::GetAtt": [connections_id, "Arn"]}
    ]


def test_management_api_reads_and_writes_its_tables_and_encrypts_secrets(dev: SynthesizedStage) -> None:
    statements = policy_statements(dev, MANAGEMENT_API)
    for table in ALL_TABLES:
        if table in (NONCES_TABLE, REQUEST_LOGS_TABLE, EVENTS_TABLE):
            continue
        assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= actions_on(
            statements, table_logical_id(dev, table)
        )
    key_id = secrets_key_id(dev)
    assert actions_on(statements, key_id) == {"kms:Encrypt", "kms:Decrypt"}


def test_every_function_reaches_only_the_tables_listed_for_it(dev: SynthesizedStage) -> None:
    """A table is granted by name, never by default: what each role reaches is exactly what the construct lists."""
    expected = {
        AUTHORIZER: {KEYS_TABLE, CONNECTIONS_TABLE, NONCES_TABLE},
        MANAGEMENT_API: {*MANAGEMENT_API_READ_WRITE_TABLES, REQUEST_LOGS_TABLE, EVENTS_TABLE},
        LOG_INGEST: {REQUEST_LOGS_TABLE, KEYS_TABLE},
        SCHEDULER: {KEYS_TABLE, EVENTS_TABLE},
        WEBHOOK_DELIVERY: {WEBHOOKS_TABLE, IDEMPOTENCY_TABLE},
    }
    for function, tables in expected.items():
        statements = policy_statements(dev, function)
        reached = {table for table in ALL_TABLES if actions_on(statements, table_logical_id(dev, table))}
        assert reached == tables, function.name


def test_management_api_cannot_touch_hmac_nonces(dev: SynthesizedStage) -> None:
    assert actions_on(policy_statements(dev, MANAGEMENT_API), table_logical_id(dev, NONCES_TABLE)) == set()


def test_management_api_only_gets_and_queries_request_logs_and_their_indexes(dev: SynthesizedStage) -> None:
    request_logs_id = table_logical_id(dev, REQUEST_LOGS_TABLE)
    (statement,) = [
        statement
        for statement in policy_statements(dev, MANAGEMENT_API)
        if request_logs_id in str(statement["Resource"])
    ]
    assert set(statement["Action"]) == {"dynamodb:GetItem", "dynamodb:Query"}
    assert {"Fn::Join": ["", [{"Fn::GetAtt": [request_logs_id, "Arn"]}, "/index/*"]]} in statement["Resource"]


def test_management_api_only_records_and_lists_events(every_stage: SynthesizedStage) -> None:
    # Events are history: no edit, no delete (the TTL expires them), no scan.
    events_id = table_logical_id(every_stage, EVENTS_TABLE)
    assert actions_on(policy_statements(every_stage, MANAGEMENT_API), events_id) == {
        "dynamodb:PutItem",
        "dynamodb:Query",
    }


def test_log_ingest_only_batch_writes_request_logs_and_updates_keys(every_stage: SynthesizedStage) -> None:
    statements = policy_statements(every_stage, LOG_INGEST)
    expected = {REQUEST_LOGS_TABLE: {"dynamodb:BatchWriteItem"}, KEYS_TABLE: {"dynamodb:UpdateItem"}}
    for table in ALL_TABLES:
        assert actions_on(statements, table_logical_id(every_stage, table)) == expected.get(table, set()), table
    key_id = secrets_key_id(every_stage)
    assert actions_on(statements, key_id) == set()


def test_only_log_ingest_writes_request_logs(every_stage: SynthesizedStage) -> None:
    request_logs_id = table_logical_id(every_stage, REQUEST_LOGS_TABLE)
    writers = {
        definition.name
        for definition in FUNCTIONS
        if actions_on(policy_statements(every_stage, definition), request_logs_id) & WRITE_ACTIONS
    }
    assert writers == {LOG_INGEST.name}


@pytest.mark.parametrize("definition", [AUTHORIZER, STORE_DEMO], ids=lambda definition: definition.name)
def test_request_logs_are_out_of_reach_of_the_authorizer_and_the_store_demo(
    dev: SynthesizedStage, definition: LambdaFunction
) -> None:
    assert actions_on(policy_statements(dev, definition), table_logical_id(dev, REQUEST_LOGS_TABLE)) == set()


def test_only_the_management_api_and_the_scheduler_may_encrypt_with_the_secrets_key(
    every_stage: SynthesizedStage,
) -> None:
    # The API seals the secrets it mints, the scheduler those of the keys it rotates; nothing else seals.
    key_id = secrets_key_id(every_stage)
    encrypting = {
        definition.name
        for definition in FUNCTIONS
        if {"kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:*"}
        & actions_on(policy_statements(every_stage, definition), key_id)
    }
    assert encrypting == {MANAGEMENT_API.name, SCHEDULER.name}


def test_functions_know_whether_authorizer_results_are_cached(
    dev: SynthesizedStage, dev_with_authorizer_cache: SynthesizedStage
) -> None:
    def cache_ttl(stage: SynthesizedStage) -> str:
        variables = function_resource(stage, MANAGEMENT_API)[1]["Properties"]["Environment"]["Variables"]
        return str(variables["GATEKEY_AUTHORIZER_CACHE_TTL"])

    assert cache_ttl(dev) == "0"
    assert cache_ttl(dev_with_authorizer_cache) == str(CACHED_AUTHORIZER_TTL_SECONDS)


@pytest.mark.parametrize("stage_name", ["dev", "prod"])
def test_the_management_api_knows_where_its_console_is_for_invitation_links(
    stage_name: str, request: pytest.FixtureRequest
) -> None:
    stage: SynthesizedStage = request.getfixturevalue(stage_name)
    variables = function_resource(stage, MANAGEMENT_API)[1]["Properties"]["Environment"]["Variables"]
    (api_id,) = [
        name
        for name, api in stage.resources_of_type("AWS::ApiGateway::RestApi").items()
        if api["Properties"]["Name"] == f"gatekey-{stage_name}"
    ]
    assert variables[CONSOLE_URL_ENV_VAR] == {
        "Fn::Join": [
            "",
            [
                "https://",
                {"Ref": api_id},
                ".execute-api.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                f"/{stage_name}/dashboard/",
            ],
        ]
    }
    for other in (AUTHORIZER, LOG_INGEST, SCHEDULER, WEBHOOK_DELIVERY):
        assert CONSOLE_URL_ENV_VAR not in function_resource(stage, other)[1]["Properties"]["Environment"]["Variables"]


def test_store_demo_touches_no_table_and_no_key(dev: SynthesizedStage) -> None:
    actions = {action for statement in policy_statements(dev, STORE_DEMO) for action in as_list(statement["Action"])}
    assert not {action for action in actions if action.startswith(("dynamodb:", "kms:"))}


def test_every_function_runs_the_one_bundled_code_asset(dev: SynthesizedStage) -> None:
    s3_keys = {function_resource(dev, definition)[1]["Properties"]["Code"]["S3Key"] for definition in FUNCTIONS}
    assert len(s3_keys) == 1


def test_the_configuration_reaches_the_functions_as_a_file_of_the_bundle_not_in_their_environment(
    dev: SynthesizedStage,
) -> None:
    bundled = asset_dir(dev, AUTHORIZER) / CONFIGURATION_FILE_NAME
    # The stack names no configuration file: the demo store's applies, checked again as the functions load it.
    assert bundled.read_text() == load_configuration().to_json()
    assert load_configuration(bundled).catalog == load_configuration().catalog
    for definition in FUNCTIONS:
        variables = function_resource(dev, definition)[1]["Properties"]["Environment"]["Variables"]
        assert variables[CONFIG_FILE_ENV_VAR] == f"/var/task/{CONFIGURATION_FILE_NAME}"
        assert not any("permissions" in str(value) for value in variables.values())


def test_the_bundle_holds_arm64_dependencies_and_the_package_without_what_never_runs_in_lambda(
    dev: SynthesizedStage,
) -> None:
    asset = asset_dir(dev, AUTHORIZER)
    package = asset / "gatekey"
    assert (package / "handlers" / "authorizer.py").is_file()
    assert (package / "handlers" / "store_demo.toml").is_file()
    assert not {"local", "client", "cdk", "cli.py"} & {path.name for path in package.iterdir()}
    # Bytecode for the runtime's Python (tests/infra/test_bundle.py checks all of it, built as `make build` builds).
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    assert (package / "handlers" / "__pycache__" / f"authorizer.{tag}.pyc").is_file()
    assert (asset / "aws_lambda_powertools").is_dir()
    (pydantic_core_binary,) = (asset / "pydantic_core").glob("_pydantic_core.*.so")
    assert "aarch64" in pydantic_core_binary.name
    assert f"cpython-{sys.version_info.major}{sys.version_info.minor}" in pydantic_core_binary.name
    # The Lambda runtime provides boto3; a bundled copy would only grow the asset.
    assert not (asset / "boto3").exists()
    assert not (asset / "botocore").exists()


def test_make_build_writes_the_asset_that_synthesis_bundles(dev: SynthesizedStage, tmp_path: Path) -> None:
    def files(root: Path) -> set[str]:
        return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}

    built = build_lambda(tmp_path / "lambda")
    asset = asset_dir(dev, AUTHORIZER)
    assert files(built) == files(asset)
    assert (built / CONFIGURATION_FILE_NAME).read_bytes() == (asset / CONFIGURATION_FILE_NAME).read_bytes()
