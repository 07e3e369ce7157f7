"""`gatekey bootstrap`: founds a deployed stage's first org once, in that stage's tables, keeping only hashes."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from gatekey.configuration import active_configuration, load_configuration
from gatekey.domain.hashing import PEPPERED_PREFIX, SecretVerifier
from gatekey.domain.permissions import render_permissions
from gatekey.domain.plans import NO_PLANS, Plans, usage_key_name, usage_plan_names
from gatekey.domain.tokens import parse_token
from gatekey.local.embedded import LOCAL_CREDENTIALS
from gatekey.settings import MANAGEMENT_API_URL_PARAMETER, STAGES, ssm_parameter_name
from gatekey.storage.items import from_typed
from gatekey.storage.sealing import KmsPepper, kms_alias, secret_mac_alias
from gatekey.storage.tables import ALL_TABLES, DIRECTORY_TABLE, KEYS_TABLE, TableDefinition, user_item_key
from tests.e2e.server import free_port

GATEKEY = Path(sys.executable).parent / "gatekey"
# Regions the session's moto server has no tables in, so the command can only have found the tables by --region.
DEV_REGION = "eu-west-1"
PROD_REGION = "eu-central-1"
EMPTY_REGION = "us-west-2"
RunBootstrap = Callable[..., subprocess.CompletedProcess[str]]


def aws(service: str, endpoint: str, region: str) -> Any:
    """A client of its own: the session's fixture configured this process's environment for another stage."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def deploy_stage_storage(endpoint: str, stage: str, region: str, plans: Plans = NO_PLANS) -> None:
    """What `cdk deploy -c stage=<stage>` creates that bootstrapping uses: the stage's tables and key aliases, and
    its plans' usage plans (named as the construct names them)."""
    apigateway = aws("apigateway", endpoint, region)
    for plan in plans.names():
        for name in usage_plan_names(stage, plan):
            apigateway.create_usage_plan(name=name)
    dynamodb = aws("dynamodb", endpoint, region)
    for table in ALL_TABLES:
        dynamodb.create_table(**table.create_table_arguments(table.physical_name(stage)))
    kms = aws("kms", endpoint, region)
    key_id = kms.create_key(Description=f"Gatekey {stage} secrets")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=kms_alias(stage), TargetKeyId=key_id)
    mac_key = kms.create_key(Description=f"Gatekey {stage} pepper", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    kms.create_alias(AliasName=secret_mac_alias(stage), TargetKeyId=mac_key["KeyMetadata"]["KeyId"])


def stage_verifier(endpoint: str, stage: str, region: str) -> SecretVerifier:
    """Checks secrets as the stage's authorizer does: peppered by the stage's HMAC key in KMS."""

    class StagePepper:
        def key(self) -> bytes:
            mac: bytes = aws("kms", endpoint, region).generate_mac(
                KeyId=secret_mac_alias(stage), Message=KmsPepper.MESSAGE, MacAlgorithm="HMAC_SHA_256"
            )["Mac"]
            return mac

    return SecretVerifier(STAGES[stage].key_secret_argon2, StagePepper())


def items(endpoint: str, stage: str, region: str, table: TableDefinition) -> list[dict[str, Any]]:
    paginator = aws("dynamodb", endpoint, region).get_paginator("scan")
    pages = paginator.paginate(TableName=table.physical_name(stage))
    return [from_typed(item) for page in pages for item in page["Items"]]


def bootstrap_command(without_moto: Path, home: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # A clean environment: no credentials, region or endpoint of this test process leaks into the command.
    return subprocess.run(
        [str(GATEKEY), "bootstrap", *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(without_moto)},
    )


@pytest.fixture(scope="module")
def without_moto(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PYTHONPATH entry shadowing moto: bootstrapping a deployed stage must need nothing but boto3."""
    shadow = tmp_path_factory.mktemp("without-moto")
    (shadow / "moto").mkdir()
    (shadow / "moto" / "__init__.py").write_text("raise ImportError('moto is not installed')\n")
    return shadow


@pytest.fixture
def run_bootstrap(without_moto: Path, tmp_path: Path) -> RunBootstrap:
    return functools.partial(bootstrap_command, without_moto, tmp_path)


@dataclass(frozen=True)
class Bootstrapped:
    endpoint: str
    result: subprocess.CompletedProcess[str]
    admin_key_file: Path
    partner_key_file: Path

    def items(self, table: TableDefinition) -> list[dict[str, Any]]:
        return items(self.endpoint, "dev", DEV_REGION, table)

    def org(self) -> dict[str, Any]:
        (org,) = [item for item in self.items(DIRECTORY_TABLE) if item["sk"] == "ORG"]
        return org

    def key(self, key_type: str) -> dict[str, Any]:
        (key,) = [item for item in self.items(KEYS_TABLE) if item["type"] == key_type]
        return key


@pytest.fixture(scope="module")
def bootstrapped(storage_endpoint: str, without_moto: Path, tmp_path_factory: pytest.TempPathFactory) -> Bootstrapped:
    deploy_stage_storage(storage_endpoint, "dev", DEV_REGION)
    home = tmp_path_factory.mktemp("operator")
    admin_key_file, partner_key_file = home / "secrets" / "admin-key", home / "secrets" / "partner-key"
    result = bootstrap_command(
        without_moto,
        home,
        "--stage=dev",
        "--org-name=Acme Gateway",
        "--admin-email=ops@acme.example",
        "--admin-name=Acme Ops",
        f"--admin-key-file={admin_key_file}",
        f"--partner-key-file={partner_key_file}",
        f"--region={DEV_REGION}",
        f"--storage-endpoint={storage_endpoint}",
    )
    return Bootstrapped(storage_endpoint, result, admin_key_file, partner_key_file)


def test_bootstrap_writes_both_tokens_to_files_only_its_user_can_read(bootstrapped: Bootstrapped) -> None:
    assert bootstrapped.result.returncode == 0, bootstrapped.result.stderr
    for path in (bootstrapped.admin_key_file, bootstrapped.partner_key_file):
        assert path.stat().st_mode & 0o777 == 0o600
        token = path.read_text().strip()
        parse_token(token, STAGES["dev"].token_prefix)
        assert token not in bootstrapped.result.stdout


def test_bootstrap_creates_the_org_and_its_admin_in_the_stages_directory(bootstrapped: Bootstrapped) -> None:
    org = bootstrapped.org()
    assert org["name"] == "Acme Gateway"
    (user,) = [item for item in bootstrapped.items(DIRECTORY_TABLE) if item["sk"].startswith("USER#")]
    assert user["role"] == "admin"
    assert (user["email"], user["name"]) == ("ops@acme.example", "Acme Ops")
    assert {"pk": user["pk"], "sk": user["sk"]} == user_item_key(org["org_id"], user["user_id"])
    output = bootstrapped.result.stdout
    assert org["org_id"] in output
    assert user["user_id"] in output


def test_admin_key_is_a_main_key_with_every_permission_and_the_partner_key_only_writes_orgs(
    bootstrapped: Bootstrapped,
) -> None:
    org_id = bootstrapped.org()["org_id"]
    admin_key, partner_key = bootstrapped.key("main"), bootstrapped.key("partner")
    assert admin_key["permissions"] == render_permissions(active_configuration().catalog.everything())
    assert partner_key["permissions"] == {"orgs": "write"}
    assert admin_key["org_id"] == partner_key["org_id"] == org_id
    assert len(bootstrapped.items(KEYS_TABLE)) == 2
    tokens = {
        admin_key["key_id"]: bootstrapped.admin_key_file.read_text().strip(),
        partner_key["key_id"]: bootstrapped.partner_key_file.read_text().strip(),
    }
    for key_id, token in tokens.items():
        assert parse_token(token, STAGES["dev"].token_prefix).key_id == key_id
        assert key_id in bootstrapped.result.stdout


def test_keys_are_hashed_with_the_stages_argon2_cost_and_no_token_rests_in_plaintext(
    bootstrapped: Bootstrapped,
) -> None:
    dev = STAGES["dev"]
    tokens = [path.read_text().strip() for path in (bootstrapped.admin_key_file, bootstrapped.partner_key_file)]
    secrets = [parse_token(token, dev.token_prefix).secret for token in tokens]
    for key in bootstrapped.items(KEYS_TABLE):
        cost = dev.key_secret_argon2
        assert key["secret_hash"].startswith(
            f"{PEPPERED_PREFIX}$argon2id$v=19$m={cost.memory_kib},t={cost.time_cost},p={cost.parallelism}$"
        )
        assert "sealed_secret" not in key
    every_item = json.dumps([bootstrapped.items(table) for table in ALL_TABLES], default=str)
    for plaintext in [*tokens, *secrets]:
        assert plaintext not in every_item


def test_a_second_bootstrap_exits_1_and_creates_and_overwrites_nothing(
    bootstrapped: Bootstrapped, run_bootstrap: RunBootstrap
) -> None:
    admin_token = bootstrapped.admin_key_file.read_text()
    before = {table.logical_name: bootstrapped.items(table) for table in ALL_TABLES}
    result = run_bootstrap(
        "--stage=dev",
        "--org-name=Second Org",
        "--admin-email=second@acme.example",
        f"--admin-key-file={bootstrapped.admin_key_file}",
        f"--region={DEV_REGION}",
        f"--storage-endpoint={bootstrapped.endpoint}",
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "gatekey: the dev stage was bootstrapped already, nothing was created (its partner key creates further orgs)"
    )
    assert result.stdout == ""
    assert {table.logical_name: bootstrapped.items(table) for table in ALL_TABLES} == before
    assert bootstrapped.admin_key_file.read_text() == admin_token


def test_without_the_consoles_address_bootstrap_says_how_to_invite_the_admin(bootstrapped: Bootstrapped) -> None:
    (user,) = [item for item in bootstrapped.items(DIRECTORY_TABLE) if item["sk"].startswith("USER#")]
    assert f"POST /v1/users/{user['user_id']}/invitation" in bootstrapped.result.stdout
    assert "invitation_sha256" not in user


@pytest.mark.parametrize("given", [False, True], ids=["published-in-ssm", "console-url-option"])
def test_bootstrap_invites_the_first_admin_to_the_stages_console(
    storage_endpoint: str, run_bootstrap: RunBootstrap, given: bool
) -> None:
    region = "ca-central-1" if given else "sa-east-1"
    api_url = f"https://abc123.execute-api.{region}.amazonaws.com/dev/"
    deploy_stage_storage(storage_endpoint, "dev", region)
    # What the stack publishes (gatekey.cdk: ssm_parameter_name), which bootstrap reads without the option.
    aws("ssm", storage_endpoint, region).put_parameter(
        Name=ssm_parameter_name("dev", MANAGEMENT_API_URL_PARAMETER), Value=api_url, Type="String"
    )
    console = "https://console.acme.example/dev/dashboard/" if given else f"{api_url}dashboard/"
    result = run_bootstrap(
        "--stage=dev",
        "--org-name=Acme",
        "--admin-email=ops@acme.example",
        f"--region={region}",
        f"--storage-endpoint={storage_endpoint}",
        *([f"--console-url={console}"] if given else []),
    )
    assert result.returncode == 0, result.stderr
    (link,) = [line.strip() for line in result.stdout.splitlines() if "#token=" in line]
    assert link.startswith(f"{console}invitation.html#token=")
    token = link.partition("#token=")[2]
    (user,) = [item for item in items(storage_endpoint, "dev", region, DIRECTORY_TABLE) if "role" in item]
    # Only the token's digest is kept: the link works once, where the digest matches.
    assert user["invitation_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    every_item = json.dumps([items(storage_endpoint, "dev", region, table) for table in ALL_TABLES], default=str)
    assert token not in every_item


def test_tokens_without_a_file_are_printed_labelled(storage_endpoint: str, run_bootstrap: RunBootstrap) -> None:
    deploy_stage_storage(storage_endpoint, "prod", PROD_REGION)
    result = run_bootstrap(
        "--stage=prod",
        "--org-name=Acme",
        "--admin-email=ops@acme.example",
        f"--region={PROD_REGION}",
        f"--storage-endpoint={storage_endpoint}",
    )
    assert result.returncode == 0, result.stderr
    printed = {
        label.strip(): value.strip()
        for label, _, value in (line.partition(":") for line in result.stdout.splitlines() if line.startswith("  "))
    }
    keys = {key["type"]: key for key in items(storage_endpoint, "prod", PROD_REGION, KEYS_TABLE)}
    for label, key_type in (("admin", "main"), ("partner", "partner")):
        token = parse_token(printed[f"{label} token"], STAGES["prod"].token_prefix)
        assert token.key_id == keys[key_type]["key_id"]
        assert stage_verifier(storage_endpoint, "prod", PROD_REGION).verify(keys[key_type]["secret_hash"], token.secret)
    (user,) = [item for item in items(storage_endpoint, "prod", PROD_REGION, DIRECTORY_TABLE) if "role" in item]
    assert user["name"] == "Acme admin"


def test_a_region_where_the_stage_is_not_deployed_is_a_one_line_error(
    storage_endpoint: str, run_bootstrap: RunBootstrap
) -> None:
    result = run_bootstrap(
        "--stage=dev",
        "--org-name=Acme",
        "--admin-email=ops@acme.example",
        f"--region={EMPTY_REGION}",
        f"--storage-endpoint={storage_endpoint}",
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"gatekey: the dev stage is not deployed in {storage_endpoint} (no table ")
    assert "npx aws-cdk@2 deploy -c stage=dev" in result.stderr
    assert result.stdout == ""


def test_an_unreachable_storage_endpoint_is_a_one_line_error(
    run_bootstrap: RunBootstrap,
) -> None:
    unused = f"http://127.0.0.1:{free_port()}"
    result = run_bootstrap(
        "--stage=dev", "--org-name=Acme", "--admin-email=ops@acme.example", f"--storage-endpoint={unused}"
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"gatekey: cannot use the dev stage's storage in {unused}: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("--admin-email", "not-an-email"), ("--org-name", ""), ("--admin-name", "x" * 101)],
)
def test_names_and_email_the_api_would_refuse_are_refused_before_anything_is_stored(
    run_bootstrap: RunBootstrap, option: str, value: str
) -> None:
    options = {"--org-name": "Acme", "--admin-email": "ops@acme.example", option: value}
    unused = f"http://127.0.0.1:{free_port()}"  # nothing is reached: the arguments are checked first
    result = run_bootstrap(
        "--stage=dev", *[f"{name}={text}" for name, text in options.items()], f"--storage-endpoint={unused}"
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"gatekey: {option}: ")
    assert result.stderr.count("\n") == 1


INVOICES_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "invoices" / "gatekey.toml"


def test_with_the_providers_configuration_the_admin_key_holds_its_catalog_and_the_org_is_on_its_default_plan(
    storage_endpoint: str, run_bootstrap: RunBootstrap
) -> None:
    region = "ap-southeast-2"
    deploy_stage_storage(storage_endpoint, "dev", region, load_configuration(INVOICES_CONFIG).plans)
    result = run_bootstrap(
        "--stage=dev",
        "--org-name=Invoices",
        "--admin-email=ops@invoices.example",
        f"--config={INVOICES_CONFIG}",
        f"--region={region}",
        f"--storage-endpoint={storage_endpoint}",
    )
    assert result.returncode == 0, result.stderr
    (admin_key,) = [key for key in items(storage_endpoint, "dev", region, KEYS_TABLE) if key["type"] == "main"]
    permissions = admin_key["permissions"]
    assert permissions["invoices"] == "write" and permissions["customers"] == "read"
    assert "products" not in permissions  # the demo store's catalog is not the provider's
    (org,) = [item for item in items(storage_endpoint, "dev", region, DIRECTORY_TABLE) if item["sk"] == "ORG"]
    assert org["plan"] == "starter"
    apigateway = aws("apigateway", storage_endpoint, region)
    (api_key,) = apigateway.get_api_keys(nameQuery=usage_key_name("dev", org["org_id"]))["items"]
    in_plans = {usage_plan["name"] for usage_plan in apigateway.get_usage_plans(keyId=api_key["id"])["items"]}
    assert in_plans == set(usage_plan_names("dev", "starter"))


def test_plans_the_stage_has_not_deployed_are_one_line_and_exit_2_before_anything_is_stored(
    storage_endpoint: str, run_bootstrap: RunBootstrap
) -> None:
    region = "me-south-1"
    deploy_stage_storage(storage_endpoint, "dev", region)  # deployed before the configuration had plans
    result = run_bootstrap(
        "--stage=dev",
        "--org-name=Invoices",
        "--admin-email=ops@invoices.example",
        f"--config={INVOICES_CONFIG}",
        f"--region={region}",
        f"--storage-endpoint={storage_endpoint}",
    )
    assert result.returncode == 2
    assert result.stderr == (
        "gatekey: the stage has no usage plan 'gatekey-dev-starter': deploy the configuration with this plan first\n"
    )
    assert items(storage_endpoint, "dev", region, DIRECTORY_TABLE) == []


def test_a_bad_configuration_is_its_problem_lines_and_exit_2_before_anything_is_stored(
    tmp_path: Path, storage_endpoint: str, run_bootstrap: RunBootstrap
) -> None:
    bad = tmp_path / "gatekey.toml"
    bad.write_text('[permissions]\ninvoices = "admin"\nkeys = "read"\n')
    result = run_bootstrap(
        "--stage=dev",
        "--org-name=Invoices",
        "--admin-email=ops@invoices.example",
        f"--config={bad}",
        f"--region={EMPTY_REGION}",
        f"--storage-endpoint={storage_endpoint}",
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{bad}: permissions.invoices: unknown level 'admin': use 'read' or 'write'",
        f"{bad}: permissions.keys: 'keys' is one of Gatekey's own resources and cannot be redefined",
    ]
