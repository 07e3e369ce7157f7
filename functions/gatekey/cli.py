"""The `gatekey` command: `gatekey serve` runs the whole product locally on embedded storage."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gatekey.api_gateway import FUNCTIONS, LOG_INGEST, LambdaFunction

LOCAL_STAGE = "local"


def _load_handler(function: LambdaFunction) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    module_name, _, attribute = function.handler.rpartition(".")
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(importlib.import_module(module_name), attribute)
    return handler


def _configure_process(verbose: bool, authorizer_cache_ttl: int) -> None:
    """The environment a deployed function gets from the CDK stack, for the local stage."""
    from dataclasses import replace

    from gatekey.settings import STAGES

    os.environ.update(replace(STAGES[LOCAL_STAGE], authorizer_cache_ttl_seconds=authorizer_cache_ttl).as_environment())
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "gatekey")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Gatekey")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO" if verbose else "WARNING")


def _write_secret_file(path: str | None, token: str) -> None:
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(token + "\n")
        target.chmod(0o600)


def serve(arguments: argparse.Namespace) -> int:
    _configure_process(arguments.verbose, arguments.authorizer_cache_ttl)
    from gatekey.local.bootstrap import bootstrap_demo_tenant
    from gatekey.local.embedded import (
        EmbeddedAws,
        create_missing_tables,
        ensure_kms_key,
        local_table_names,
        point_at_storage,
    )
    from gatekey.local.events import ApiStage
    from gatekey.local.gateway import LocalGateway, LocalLambdaContext
    from gatekey.local.log_shipping import AccessLogShipper

    embedded = None if arguments.storage_endpoint else EmbeddedAws()
    endpoint = arguments.storage_endpoint or embedded.start()  # type: ignore[union-attr]
    table_names = local_table_names(LOCAL_STAGE)
    point_at_storage(endpoint, table_names)
    try:
        create_missing_tables(table_names)
        ensure_kms_key(f"gatekey-{LOCAL_STAGE}")
        tenant = bootstrap_demo_tenant()
    except (BotoCoreError, ClientError) as error:
        print(f"gatekey: cannot reach the storage endpoint {endpoint}: {error}", file=sys.stderr)
        return 2
    _write_secret_file(arguments.admin_key_file, tenant.admin_token)

    handlers = {function.name: _load_handler(function) for function in FUNCTIONS}
    api = ApiStage(stage=LOCAL_STAGE)  # what the gateway calls its API, so the log group names the same stage
    shipper = AccessLogShipper(handlers[LOG_INGEST.name], lambda: LocalLambdaContext(LOG_INGEST.name, api), api)
    gateway = LocalGateway(
        handlers, stage=api.stage, authorizer_cache_ttl=arguments.authorizer_cache_ttl, on_access_log=shipper
    )
    shipper.start()
    host, port = gateway.start(arguments.host, arguments.port)
    print(f"Gatekey is serving on http://{host}:{port} (storage: {endpoint})", flush=True)
    print(f"  org:       {tenant.org.name} ({tenant.org.org_id})", flush=True)
    print(f"  admin:     {tenant.admin.email} ({tenant.admin.user_id})", flush=True)
    print(f"  admin key: {tenant.admin_token}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)

    stopping = threading.Event()

    def stop(signal_number: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopping.wait()
    gateway.shutdown()
    shipper.stop()
    if embedded:
        embedded.stop()
    print("Gatekey stopped.", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatekey", description="Gatekey: API keys for AWS API Gateway.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run Gatekey locally on embedded DynamoDB and KMS")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8080)
    serve_parser.add_argument("--admin-key-file", help="write the admin main key's token to this file")
    serve_parser.add_argument(
        "--storage-endpoint", help="use this DynamoDB/KMS endpoint instead of starting an embedded one"
    )
    serve_parser.add_argument(
        "--authorizer-cache-ttl", type=int, default=0, help="seconds API Gateway caches the authorizer's answer"
    )
    serve_parser.add_argument("--verbose", action="store_true", help="show the functions' logs")
    serve_parser.set_defaults(run=serve)
    from gatekey.client.sign_command import add_sign_command

    add_sign_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    result: int = arguments.run(arguments)
    return result


if __name__ == "__main__":
    sys.exit(main())
