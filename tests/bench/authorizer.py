"""`make bench`: the authorizer's costs, each measured side by side with its baseline in one run.

- warm Bearer authorization per request ÷ one bare consistent GetItem on the same store (target ≤ 1.2), without
  plans and with them (DESIGN §13: the answer also names the org's API Gateway key, derived with no other read)
- warm HMAC authorization per request (one read, one conditional nonce write, no KMS) ÷ the same GetItem
  (target ≤ 2.2); requests are signed beforehand, so only the authorizer's work is timed
- what a wrong secret costs (DESIGN §3), each at every stage's key-secret cost, ÷ a warm accepted request at that
  cost: a forged secret (valid checksum, real key id; target ≤ 2), a rotated-out secret in its grace period from its
  second request on (target ≤ 1.2), and the first request of a (container, key) (target ≤ 2 at the prod cost)
- one argon2id verify, in ms, at each stage's key-secret cost and at its password cost
- cold import of the authorizer module (which creates its DynamoDB client and loads the configuration as
  deployed: the JSON form the construct ships) ÷ `import boto3` + a DynamoDB client (target ≤ 1.35), for the
  demo store's configuration and for the example provider's; best of several fresh interpreters each, since
  noise only ever adds time
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from gatekey.domain.hashing import Argon2Cost
from tests.aws_samples import AWS_EVENTS
from tests.bench.bench_store import BenchStore, bench_store

FORMER_PROD_KEY_SECRET_COST = Argon2Cost(time_cost=3, memory_kib=65536)
ROUNDS = 20

PER_ROUND = 25
COLD_RUNS = 15
REPO = Path(__file__).resolve().parents[2]
PROVIDER_CONFIG = REPO / "examples" / "invoices" / "gatekey.toml"
SAMPLE_EVENT = AWS_EVENTS / "apiGatewayAuthorizerRequestEvent.json"

AUTHORIZER_COLD = """
import time
start = time.perf_counter()
import gatekey.handlers.authorizer  # creates its DynamoDB client during import, as in Lambda's init
print(time.perf_counter() - start)
"""
BOTO3_COLD = """
import time
start = time.perf_counter()
import boto3
boto3.client("dynamodb")
print(time.perf_counter() - start)
"""


def per_call_seconds(work: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        work()
    return (time.perf_counter() - start) / count


def cold_seconds(script: str, **environment: str) -> float:
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env={**os.environ, **environment}
    ).stdout
    return float(output.strip().splitlines()[-1])


PLANS = """
[plans.standard]
rate = 100
burst = 200
quota = { limit = 1000000, period = "month" }
"""


def authorizer_with_plans(directory: Path, deployed: ModuleType) -> ModuleType:
    """The authorizer module loaded once more, as deployed with the demo store's configuration and a plan (in the
    JSON form the construct ships)."""
    from gatekey.configuration import (
        CONFIG_FILE_ENV_VAR,
        DEFAULT_CONFIG_FILE,
        active_configuration,
        load_configuration,
    )

    source = directory / "plans.toml"
    source.write_text(f'default_plan = "standard"\n{DEFAULT_CONFIG_FILE.read_text()}\n{PLANS}')
    shipped = directory / "plans.json"
    shipped.write_text(load_configuration(source).to_json())
    previous = os.environ.get(CONFIG_FILE_ENV_VAR)
    os.environ[CONFIG_FILE_ENV_VAR] = str(shipped)
    active_configuration.cache_clear()
    try:
        spec = importlib.util.spec_from_file_location("authorizer_with_plans", str(deployed.__file__))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if previous is None:
            os.environ.pop(CONFIG_FILE_ENV_VAR)
        else:
            os.environ[CONFIG_FILE_ENV_VAR] = previous
        active_configuration.cache_clear()
    return module


def shipped_configurations(directory: Path) -> dict[str, str]:
    """The demo store's and the example provider's configuration files in the JSON form deployed functions read."""
    from gatekey.configuration import load_configuration

    shipped = {}
    for name, source in (("demo store", None), ("invoices example", PROVIDER_CONFIG)):
        path = directory / f"{name.replace(' ', '-')}.json"
        path.write_text(load_configuration(source).to_json())
        shipped[name] = str(path)
    return shipped


def main() -> None:
    with bench_store() as store:
        measure(store)


def measure(store: BenchStore) -> None:
    from gatekey.api import services
    from gatekey.configuration import active_configuration
    from gatekey.domain.key_lifecycle import NewKey
    from gatekey.domain.signing import sign_request
    from gatekey.local.events import ApiStage
    from gatekey.local.gateway import LocalLambdaContext
    from gatekey.settings import STAGES
    from gatekey.storage import aws
    from gatekey.storage.tables import KEYS_TABLE

    tenant, admin = store.tenant, store.admin
    hmac_key, hmac_token = services.key_lifecycle().create(
        admin,
        NewKey(
            label="bench signer",
            auth_mode="hmac",
            permissions={"products": active_configuration().catalog.everything()["products"]},
        ),
    )

    # Logs and metrics are written as in production, into a sink instead of the terminal: Powertools'
    # Logger binds the stdout it sees at import, so the sink is in place before the handler is imported.
    terminal, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    from gatekey.handlers import authorizer

    event: dict[str, Any] = copy.deepcopy(json.loads(SAMPLE_EVENT.read_text()))
    event["methodArn"] = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/products"
    event["headers"] = {"Authorization": f"Bearer {tenant.admin_token}"}
    context = LocalLambdaContext("authorizer", ApiStage(), timeout_seconds=3600)
    key = {"key_id": {"S": tenant.admin_key_id}}
    client = aws.dynamodb_client()
    table_name = KEYS_TABLE.name()

    def signed_events(count: int) -> list[dict[str, Any]]:
        """Events of freshly signed requests: each nonce is accepted once, so each event serves once."""
        events = []
        for _ in range(count):
            signed = copy.deepcopy(event)
            signed["headers"] = sign_request(
                key_id=hmac_key.key_id,
                token=hmac_token.value,
                method="GET",
                raw_path=signed["path"],
                raw_query="",
                body=b"",
                timestamp=int(time.time()),
            )
            signed["queryStringParameters"] = signed["multiValueQueryStringParameters"] = None
            events.append(signed)
        return events

    def authorize() -> object:
        return authorizer.lambda_handler(event, context)  # type: ignore[arg-type]

    plans_directory = tempfile.TemporaryDirectory()
    with_plans = authorizer_with_plans(Path(plans_directory.name), authorizer)

    def authorize_with_plans() -> object:
        return with_plans.lambda_handler(event, context)

    answer = authorize_with_plans()
    assert isinstance(answer, dict) and answer.get("usageIdentifierKey"), answer  # the plans are on

    def authorize_signed(pending: list[dict[str, Any]]) -> Callable[[], object]:
        def run() -> object:
            result = authorizer.lambda_handler(pending.pop(), context)  # type: ignore[arg-type]
            assert isinstance(result, dict) and result["principalId"] == hmac_key.key_id, result
            return result

        return run

    def bare_get_item() -> object:
        return client.get_item(TableName=table_name, Key=key, ConsistentRead=True)

    warm_up = authorize_signed(signed_events(20))
    for _ in range(20):
        authorize()
        authorize_with_plans()
        warm_up()
        bare_get_item()
    authorizer_times, plans_times, hmac_times, get_item_times = [], [], [], []
    for _ in range(ROUNDS):  # interleaved, so drift in the machine's load hits all alike
        authorizer_times.append(per_call_seconds(authorize, PER_ROUND))
        plans_times.append(per_call_seconds(authorize_with_plans, PER_ROUND))
        hmac_times.append(per_call_seconds(authorize_signed(signed_events(PER_ROUND)), PER_ROUND))
        get_item_times.append(per_call_seconds(bare_get_item, PER_ROUND))
    wrong_secret_ratios = {
        stage: wrong_secret_costs(store, authorizer, context, settings.key_secret_argon2)
        for stage, settings in STAGES.items()
    }
    # For comparison: what a forged secret and a first request cost at the key-secret cost prod had before (OWASP's).
    former = wrong_secret_costs(store, authorizer, context, FORMER_PROD_KEY_SECRET_COST)
    sys.stdout.close()
    sys.stdout = terminal
    plans_directory.cleanup()
    warm_authorizer = statistics.median(authorizer_times)
    warm_with_plans = statistics.median(plans_times)
    warm_hmac = statistics.median(hmac_times)
    warm_get_item = statistics.median(get_item_times)

    argon2_ms = {}
    for stage, settings in STAGES.items():
        for kind, cost in (("key secret", settings.key_secret_argon2), ("password", settings.password_argon2)):
            hasher = cost.hasher()
            verify = partial(hasher.verify, hasher.hash("bench-secret"), "bench-secret")
            argon2_ms[(stage, kind)] = statistics.median(per_call_seconds(verify, 3) for _ in range(5)) * 1000

    from gatekey.configuration import CONFIG_FILE_ENV_VAR

    with tempfile.TemporaryDirectory() as directory:
        configurations = shipped_configurations(Path(directory))
        authorizer_cold: dict[str, list[float]] = {name: [] for name in configurations}
        boto3_cold = []
        for _ in range(COLD_RUNS):
            for name, path in configurations.items():
                authorizer_cold[name].append(cold_seconds(AUTHORIZER_COLD, **{CONFIG_FILE_ENV_VAR: path}))
            boto3_cold.append(cold_seconds(BOTO3_COLD))
    cold_boto3 = min(boto3_cold)
    warm_ratio = warm_authorizer / warm_get_item
    print("Gatekey authorizer benchmark (one run, each figure side by side with its baseline)")
    print(f"  warm Bearer authorization    {warm_authorizer * 1000:8.3f} ms/request   (median of {ROUNDS} rounds)")
    print(f"  bare GetItem, same store     {warm_get_item * 1000:8.3f} ms/request")
    print(f"  ratio                        {warm_ratio:8.2f}   (target <= 1.2)")
    print(f"  warm Bearer, with plans      {warm_with_plans * 1000:8.3f} ms/request   (median of {ROUNDS} rounds)")
    print(f"  ratio                        {warm_with_plans / warm_get_item:8.2f}   (target <= 1.2)")
    print(f"  warm HMAC authorization      {warm_hmac * 1000:8.3f} ms/request   (median of {ROUNDS} rounds)")
    print(f"  ratio to the bare GetItem    {warm_hmac / warm_get_item:8.2f}   (target <= 2.2)")
    print("  what a wrong secret costs, each ÷ a warm accepted request at the same stage's key-secret cost")
    print(f"  {'stage':8}{'forged':>10}{'grace, 2nd+':>14}{'first (container, key)':>24}")
    for stage, ratios in wrong_secret_ratios.items():
        print(f"  {stage:8}{ratios['forged']:10.2f}{ratios['grace']:14.2f}{ratios['first']:24.2f}")
    print(f"  {'former':8}{former['forged']:10.2f}{'':14}{former['first']:24.2f}   (prod's former 64 MiB, t=3)")
    print("  targets: forged <= 2, grace <= 1.2, first <= 2 (prod)")
    for (stage, kind), milliseconds in argon2_ms.items():
        print(f"  argon2id verify, {stage} {kind:10} {milliseconds:8.2f} ms")
    print(f"  cold import boto3 + client   {cold_boto3 * 1000:8.1f} ms   (best of {COLD_RUNS})")
    for name, seconds in authorizer_cold.items():
        cold = min(seconds)
        print(f"  cold import authorizer with the {name}'s configuration (JSON, as deployed)")
        print(f"  {'':29}{cold * 1000:8.1f} ms   ratio {cold / cold_boto3:5.2f}   (target <= 1.35)")


def wrong_secret_costs(store: BenchStore, authorizer: Any, context: Any, cost: Argon2Cost) -> dict[str, float]:
    """The authorizer's answer to a forged, a rotated-out and a first-seen secret ÷ a warm accepted one, with the
    key hashed at `cost` and the authorizer checking at that cost (everything else as deployed)."""
    from gatekey.api import services
    from gatekey.domain.authentication import Authenticator
    from gatekey.domain.hashing import SecretVerifier
    from gatekey.domain.key_lifecycle import NewKey
    from gatekey.domain.permissions import Level
    from gatekey.domain.tokens import new_token
    from gatekey.settings import STAGES

    prefix = STAGES["local"].token_prefix
    deployed = authorizer.authenticator
    pepper = deployed._verifier._pepper  # the deployed authorizer's pepper, already fetched from KMS

    def authenticator() -> Any:
        """The deployed authorizer's authenticator, checking secrets at `stage`'s cost with a fresh memory."""
        return Authenticator(
            deployed._keys,
            SecretVerifier(cost, pepper),
            prefix,
            hmac_secrets=deployed._hmac_secrets,
            nonces=deployed._nonces,
            connections=deployed._connections,
        )

    lifecycle = services.key_lifecycle()
    key, token = lifecycle.create(store.admin, NewKey(label=f"bench {cost}", permissions={"products": Level.READ}))
    keys = services.keys_repository()
    stored = keys.get(key.key_id)
    assert stored is not None
    stored.secret_hash = SecretVerifier(cost, pepper).hash(token.secret)
    keys.save(stored, read_secret_version=stored.secret_version)

    def event(token_text: str) -> dict[str, Any]:
        answer: dict[str, Any] = copy.deepcopy(json.loads(SAMPLE_EVENT.read_text()))
        answer["methodArn"] = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/products"
        answer["headers"] = {"Authorization": f"Bearer {token_text}"}
        return answer

    def call(checker: Any, request: dict[str, Any]) -> float:
        """Seconds the deployed authorizer takes to answer `request` when it checks secrets with `checker`."""
        authorizer.authenticator = checker
        started = time.perf_counter()
        try:
            authorizer.lambda_handler(request, context)
        except Exception as refusal:  # a wrong secret: API Gateway answers 401 to exactly this
            assert str(refusal) == "Unauthorized", refusal
        finally:
            authorizer.authenticator = deployed
        return time.perf_counter() - started

    warm, grace = authenticator(), authenticator()
    call(warm, event(token.value))  # its first request: from now on the secret is known to `warm`
    rotated, new = lifecycle.rotate(store.admin, key.key_id, grace_period_seconds=3600)
    rotated.secret_hash = SecretVerifier(cost, pepper).hash(new.secret)
    rotated.previous_secret_hash = stored.secret_hash
    keys.save(rotated, read_secret_version=rotated.secret_version)
    call(warm, event(new.value))
    call(grace, event(token.value))  # the old secret's first request: checked against both hashes
    # Interleaved, so drift in the machine's load hits every kind of request alike.
    times: dict[str, list[float]] = {"accepted": [], "forged": [], "first": [], "grace": []}
    for _ in range(80):
        times["accepted"].append(call(warm, event(new.value)))
        # A container that has not seen the key's right secret yet: the worst case, argon2 on the forged one.
        times["forged"].append(call(authenticator(), event(new_token(prefix, key_id=key.key_id).value)))
        times["first"].append(call(authenticator(), event(new.value)))
        times["grace"].append(call(grace, event(token.value)))
    accepted = statistics.median(times["accepted"])
    return {kind: statistics.median(seconds) / accepted for kind, seconds in times.items() if kind != "accepted"}


if __name__ == "__main__":
    main()
