"""`make bench`, log ingest: one CloudWatch Logs delivery of 10,000 access-log lines through the ingest handler.

- storage write calls used (BatchWriteItem + UpdateItem), against the target ceil(N/25) + distinct keys
- lines per second, on the embedded store (moto's server over HTTP)
"""

from __future__ import annotations

import math
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.bench.bench_store import BenchStore, bench_store

LINES = 10_000
KEYS = 20
WRITE_CALLS = {"BatchWriteItem", "PutItem", "UpdateItem"}


def main() -> None:
    with bench_store() as store:
        measure(store)


def measure(store: BenchStore) -> None:
    from gatekey.api import services
    from gatekey.domain.key_lifecycle import NewKey
    from gatekey.local.events import ApiStage, HttpRequest, LogDelivery, access_log_line, cloudwatch_logs_event
    from gatekey.local.gateway import LocalLambdaContext
    from gatekey.storage import aws

    tenant = store.tenant
    key_ids = [services.key_lifecycle().create(store.admin, NewKey(label=f"k{n}"))[0].key_id for n in range(KEYS)]

    api = ApiStage(stage="bench")
    start = datetime.now(UTC) - timedelta(minutes=10)
    lines = [
        (
            0,
            access_log_line(
                HttpRequest("GET", f"/products/p_{n}", "", (("User-Agent", "bench/1"),), b"", "198.51.100.7"),
                api=api,
                request_id=f"req-{n:06d}",
                received_at=start + timedelta(milliseconds=n),
                resource_path="/{proxy+}",
                status=200,
                latency_ms=5,
                authorizer_context={"keyId": key_ids[n % KEYS], "orgId": tenant.org.org_id},
            ),
        )
        for n in range(LINES)
    ]
    event = cloudwatch_logs_event(LogDelivery("/aws/apigateway/bench", "bench", "bench"), lines, first_id=0)

    terminal, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - Powertools' logs go to a sink
    from gatekey.handlers import log_ingest

    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    for client in (aws.dynamodb_client(), aws.dynamodb_resource().meta.client):
        client.meta.events.register("before-call.dynamodb", record)
    began = time.perf_counter()
    report = log_ingest.lambda_handler(event, LocalLambdaContext("log_ingest", api, timeout_seconds=900))
    elapsed = time.perf_counter() - began
    sys.stdout.close()
    sys.stdout = terminal

    writes = sum(1 for call in calls if call in WRITE_CALLS)
    target = math.ceil(LINES / 25) + KEYS
    print(f"Gatekey log-ingest benchmark ({LINES} lines of {KEYS} keys in one CloudWatch Logs delivery)")
    print(f"  stored                       {report['stored']:8d} entries")
    print(f"  storage write calls          {writes:8d}   (target <= ceil({LINES}/25) + {KEYS} keys = {target})")
    print(f"    of which BatchWriteItem    {calls.count('BatchWriteItem'):8d}")
    print(f"    of which UpdateItem        {calls.count('UpdateItem'):8d}")
    print(f"  lines per second             {LINES / elapsed:8.0f}   ({elapsed:.2f} s, embedded moto store)")


if __name__ == "__main__":
    main()
