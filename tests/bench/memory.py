"""`make bench`, memory: what each function's typical invocation costs at each Lambda memory size (cost x duration).

Lambda gives a function CPU in proportion to its memory: a full vCPU at 1769 MB, and single-threaded Python gains
nothing above it. So an invocation's duration at a memory size is its CPU time scaled by 1769 / MB (never below
the CPU time itself) plus the time it waits on AWS, which memory does not change. Here the CPU time is measured
(the handler's own thread, while moto's server answers on another thread), the AWS calls are counted, and each is
given a typical same-region latency (`AWS_CALL_MS`, an assumption written down below). The table shows duration
and cost per million invocations (arm64: $0.0000133334 per GB-second, $0.20 per million requests) for each size;
the sizes chosen in functions/gatekey/cdk/functions.py are marked. Cold starts are shown apart: the CPU of
importing the handler, which runs at the same share of a vCPU.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import boto3

from tests.aws_samples import AWS_EVENTS
from tests.bench.bench_store import BenchStore, bench_store

FULL_VCPU_MB = 1769
SIZES_MB = (128, 256, 512, 1024, 1769)
PRICE_PER_GB_SECOND = 0.0000133334  # arm64
PRICE_PER_MILLION_REQUESTS = 0.20
# Typical same-region latency of each call, in ms (an assumption: AWS publishes no figure; single-digit ms for
# DynamoDB and KMS is what their documentation and common measurements show).
AWS_CALL_MS = {
    "dynamodb:GetItem": 4.0,
    "dynamodb:Query": 6.0,
    "dynamodb:PutItem": 6.0,
    "dynamodb:UpdateItem": 6.0,
    "dynamodb:DeleteItem": 6.0,
    "dynamodb:BatchWriteItem": 12.0,
    "dynamodb:TransactWriteItems": 12.0,
    "kms:Encrypt": 8.0,
    "kms:Decrypt": 8.0,
    "kms:GenerateMac": 8.0,
    "events:PutEvents": 15.0,
}
SAMPLE_EVENT = AWS_EVENTS / "apiGatewayAuthorizerRequestEvent.json"
REPEATS = 30


class AwsCalls:
    """Counts the AWS operations this thread's clients send (the clients' own event hooks)."""

    def __init__(self) -> None:
        from gatekey.storage import aws

        self.calls: list[str] = []
        for client in (
            aws.dynamodb_client(),
            aws.dynamodb_resource().meta.client,
            aws.kms_client(),
            aws.events_client(),
        ):
            client.meta.events.register("before-call", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(f"{model.service_model.service_name}:{model.name}")

    def waiting_ms(self) -> float:
        return sum(AWS_CALL_MS.get(call, 8.0) for call in self.calls)


def measured(work: Callable[[], object], calls: AwsCalls, repeats: int = REPEATS) -> tuple[float, float]:
    """Median CPU ms of the calling thread per run, and the AWS wait ms of one run."""
    cpu = []
    waits = []
    for _ in range(repeats):
        calls.calls.clear()
        started = time.thread_time()
        work()
        cpu.append((time.thread_time() - started) * 1000)
        waits.append(calls.waiting_ms())
    return statistics.median(cpu), statistics.median(waits)


def cold_import_cpu_ms(module: str) -> float:
    script = f"import time; import {module}; print(time.process_time())"
    runs = []
    for _ in range(5):
        output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
        runs.append(float(output.strip().splitlines()[-1]) * 1000)
    return min(runs)


def main() -> None:
    with bench_store() as store:
        measure(store)


def measure(store: BenchStore) -> None:
    terminal, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - the functions' logs, as in Lambda
    try:
        workloads = invocations(store)
    finally:
        sys.stdout.close()
        sys.stdout = terminal
    from gatekey.api_gateway import FUNCTIONS
    from gatekey.cdk.functions import FUNCTION_SIZES

    print(
        "Memory: each function's typical invocation at each Lambda size (CPU scaled by 1769 MB / size, plus AWS wait)"
    )
    print(f"  {'invocation':40}{'cpu ms':>8}{'aws ms':>8}" + "".join(f"{size:>10} MB" for size in SIZES_MB))
    for (function_name, label), (cpu_ms, wait_ms) in workloads.items():
        chosen = FUNCTION_SIZES[function_name].memory_mib
        cells = []
        for size in SIZES_MB:
            duration_ms = cpu_ms * max(1.0, FULL_VCPU_MB / size) + wait_ms
            cost = size / 1024 * duration_ms / 1000 * PRICE_PER_GB_SECOND * 1e6 + PRICE_PER_MILLION_REQUESTS
            mark = "*" if size == chosen else " "
            cells.append(f"{duration_ms:6.0f}ms ${cost:5.2f}{mark}")
        print(f"  {label:40}{cpu_ms:8.1f}{wait_ms:8.1f}" + "".join(f"{cell:>13}" for cell in cells))
    print("  (duration and $ per million invocations; * the size functions.py deploys)")
    print("  cold start: CPU of importing the handler, and its duration at the deployed size")
    for function in FUNCTIONS:
        if function.name not in FUNCTION_SIZES:
            continue
        cpu_ms = cold_import_cpu_ms(function.handler.rpartition(".")[0])
        size = FUNCTION_SIZES[function.name].memory_mib
        print(
            f"  {function.name:40}{cpu_ms:8.1f} ms CPU   {cpu_ms * max(1.0, FULL_VCPU_MB / size):8.0f} ms at {size} MB"
        )


def invocations(store: BenchStore) -> dict[tuple[str, str], tuple[float, float]]:
    from gatekey.api import services
    from gatekey.api_gateway import AUTHORIZER, LOG_INGEST, MANAGEMENT_API, SCHEDULER, WEBHOOK_DELIVERY
    from gatekey.domain.api_keys import RotationPolicy
    from gatekey.domain.key_lifecycle import NewKey
    from gatekey.domain.permissions import Level
    from gatekey.handlers import api, authorizer, log_ingest, scheduler
    from gatekey.local.events import (
        ApiStage,
        HttpRequest,
        LogDelivery,
        access_log_line,
        cloudwatch_logs_event,
        scheduled_event,
    )
    from gatekey.local.gateway import LocalLambdaContext
    from tests.bench.api_events import management_api_event

    calls = AwsCalls()
    context = LocalLambdaContext("bench", ApiStage(), timeout_seconds=3600)
    tenant = store.tenant
    results: dict[tuple[str, str], tuple[float, float]] = {}

    request = copy.deepcopy(json.loads(SAMPLE_EVENT.read_text()))
    request["methodArn"] = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/products"
    request["headers"] = {"Authorization": f"Bearer {tenant.admin_token}"}
    authorizer.lambda_handler(request, context)
    results[(AUTHORIZER.name, "authorizer: warm Bearer request")] = measured(
        lambda: authorizer.lambda_handler(request, context), calls
    )

    # The org may hold 25 keys: ten made here, ten rotating ones for the scheduler below, and the admin's.
    create = management_api_event("POST", "/v1/keys", tenant, body={"label": "bench", "permissions": {"keys": "read"}})
    results[(MANAGEMENT_API.name, "management API: create a key")] = measured(
        lambda: api.lambda_handler(copy.deepcopy(create), context), calls, repeats=10
    )
    listing = management_api_event("GET", "/v1/keys", tenant, query={"limit": "50"})
    results[(MANAGEMENT_API.name, "management API: list 50 keys")] = measured(
        lambda: api.lambda_handler(copy.deepcopy(listing), context), calls, repeats=10
    )

    stage = ApiStage(stage="bench")
    now = datetime.now(UTC)
    http = HttpRequest("GET", "/products", "", (("User-Agent", "bench"),), b"", "198.51.100.4")
    context_values = {"keyId": tenant.admin_key_id, "orgId": tenant.org.org_id}
    lines = [
        (
            int(now.timestamp() * 1000),
            access_log_line(
                http,
                api=stage,
                request_id=f"req-{n}",
                received_at=now - timedelta(milliseconds=n),
                resource_path="/{proxy+}",
                status=200,
                latency_ms=7,
                authorizer_context=context_values,
            ),
        )
        for n in range(1000)
    ]
    delivery = cloudwatch_logs_event(LogDelivery("/aws/apigateway/bench", "s", "f"), lines, first_id=0)
    results[(LOG_INGEST.name, "log ingest: 1000 access-log lines")] = measured(
        lambda: log_ingest.lambda_handler(delivery, context), calls
    )

    lifecycle = services.key_lifecycle()
    rotating = NewKey(
        label="rotating",
        recoverable=True,
        rotation=RotationPolicy(interval_days=1, grace_period_seconds=0),
        permissions={"keys": Level.READ},
    )
    for _ in range(10):
        lifecycle.create(store.admin, rotating)
    ticks = iter(range(1, 1000))

    def scheduled_run() -> None:
        at = now + timedelta(days=next(ticks) * 2)
        scheduler.lambda_handler(scheduled_event(stage, "bench", at, f"tick-{at.isoformat()}"), context)

    results[(SCHEDULER.name, "scheduler: a run rotating 10 due keys")] = measured(scheduled_run, calls, repeats=10)
    results[(WEBHOOK_DELIVERY.name, "webhooks: an event to one webhook")] = webhook_deliveries(store, calls, context)
    return results


def webhook_deliveries(store: BenchStore, calls: AwsCalls, context: Any) -> tuple[float, float]:
    """Deliveries of `user.created` events, as the bus routes them, to a receiver on loopback answering at once;
    the wait on the receiver is counted with the AWS wait (what a receiver takes is billed at any size)."""
    from gatekey.api import services
    from gatekey.domain.users import NewUser
    from gatekey.handlers import webhooks

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    Thread(target=receiver.serve_forever, daemon=True).start()
    services.webhook_registry().create(
        store.admin, f"http://127.0.0.1:{receiver.server_address[1]}/hook", ["user.created"]
    )
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName="gatekey-local-webhook-deliveries")["QueueUrl"]
    sqs.purge_queue(QueueUrl=queue_url)
    for n in range(10):
        services.user_administration().create(store.admin, NewUser(f"bench{n}@example.com", "Bench", "member"))
    events = [json.loads(message["Body"]) for message in _drain(sqs, queue_url)]
    cpu, waits = [], []
    for event in events:
        calls.calls.clear()
        started, thread_started = time.perf_counter(), time.thread_time()
        webhooks.lambda_handler(event, context)
        cpu_ms = (time.thread_time() - thread_started) * 1000
        cpu.append(cpu_ms)
        # Everything the thread did not compute was waiting: on the receiver, and on AWS (moto here).
        waits.append(max(0.0, (time.perf_counter() - started) * 1000 - cpu_ms))
    receiver.shutdown()
    return statistics.median(cpu), statistics.median(waits)


class _Accepting(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages.extend(batch)
    return messages


if __name__ == "__main__":
    main()
