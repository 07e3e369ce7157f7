"""`make bench`: the authorizer's costs, each measured side by side with its baseline in one run.

- warm Bearer authorization per request ÷ one bare consistent GetItem on the same store (target ≤ 1.2)
- warm HMAC authorization per request (one read, one conditional nonce write, no KMS) ÷ the same GetItem
  (target ≤ 2.2); requests are signed beforehand, so only the authorizer's work is timed
- one argon2id verify, in ms, at the local and the prod cost
- cold import of the authorizer module (which creates its DynamoDB client and loads the configuration as
  deployed: the JSON form the construct ships) ÷ `import boto3` + a DynamoDB client (target ≤ 1.35), for the
  demo store's configuration and for the example provider's; best of several fresh interpreters each, since
  noise only ever adds time
"""

from __future__ import annotations

import copy
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
from typing import Any

from tests.bench.bench_store import BenchStore, bench_store

ROUNDS = 20
PER_ROUND = 25
COLD_RUNS = 15
REPO = Path(__file__).resolve().parents[2]
PROVIDER_CONFIG = REPO / "examples" / "invoices" / "gatekey.toml"
SAMPLE_EVENT = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "aws-events" / "apiGatewayAuthorizerRequestEvent.json"
)

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
    from gatekey.domain.hashing import password_hasher
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
        warm_up()
        bare_get_item()
    authorizer_times, hmac_times, get_item_times = [], [], []
    for _ in range(ROUNDS):  # interleaved, so drift in the machine's load hits all alike
        authorizer_times.append(per_call_seconds(authorize, PER_ROUND))
        hmac_times.append(per_call_seconds(authorize_signed(signed_events(PER_ROUND)), PER_ROUND))
        get_item_times.append(per_call_seconds(bare_get_item, PER_ROUND))
    sys.stdout.close()
    sys.stdout = terminal
    warm_authorizer = statistics.median(authorizer_times)
    warm_hmac = statistics.median(hmac_times)
    warm_get_item = statistics.median(get_item_times)

    argon2_ms = {}
    for stage in ("local", "prod"):
        hasher = password_hasher(STAGES[stage])
        stored = hasher.hash("bench-secret")
        verify = partial(hasher.verify, stored, "bench-secret")
        argon2_ms[stage] = statistics.median(per_call_seconds(verify, 3) for _ in range(5)) * 1000

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
    print(f"  warm HMAC authorization      {warm_hmac * 1000:8.3f} ms/request   (median of {ROUNDS} rounds)")
    print(f"  ratio to the bare GetItem    {warm_hmac / warm_get_item:8.2f}   (target <= 2.2)")
    print(f"  argon2id verify, local cost  {argon2_ms['local']:8.2f} ms")
    print(f"  argon2id verify, prod cost   {argon2_ms['prod']:8.2f} ms")
    print(f"  cold import boto3 + client   {cold_boto3 * 1000:8.1f} ms   (best of {COLD_RUNS})")
    for name, seconds in authorizer_cold.items():
        cold = min(seconds)
        print(f"  cold import authorizer with the {name}'s configuration (JSON, as deployed)")
        print(f"  {'':29}{cold * 1000:8.1f} ms   ratio {cold / cold_boto3:5.2f}   (target <= 1.35)")


if __name__ == "__main__":
    main()
