"""The `gatekey` command: `serve` runs the whole product locally; `bootstrap` founds a deployed stage's first org."""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    import httpx

    from gatekey.bootstrap import FoundedOrg
    from gatekey.configuration import GatekeyConfiguration
    from gatekey.local.embedded import EventRouting
    from gatekey.local.gateway import Integration, LambdaHandler
    from gatekey.local.limits import UsagePlanEnforcer

from gatekey.api_gateway import (
    AUTHORIZER,
    FUNCTIONS,
    GATEKEY_ROUTES,
    LOG_INGEST,
    SCHEDULER,
    STORE_DEMO,
    WEBHOOK_DELIVERY,
    LambdaFunction,
)

LOCAL_STAGE = "local"
DEMO_ORG_NAME = "Demo Store"


def schedule_rule_name(stage: str) -> str:
    return f"gatekey-{stage}-schedule"


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
        target.unlink(missing_ok=True)  # created afresh, so it is never readable by others, even for a moment
        with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(token + "\n")


class _OptionError(Exception):
    """An option a command cannot use; the message is what it prints, one line per problem."""


def _provider_options(arguments: argparse.Namespace) -> tuple[GatekeyConfiguration, httpx.URL | None]:
    """The configuration and the upstream URL, checked before anything starts; the functions of this process
    are pointed at the file, which they read through active_configuration() as deployed ones do."""
    configuration = _use_configuration(arguments.config)
    upstream = None
    if arguments.upstream:
        from gatekey.local.upstream import UpstreamUrlError, upstream_url

        try:
            upstream = upstream_url(arguments.upstream)
        except UpstreamUrlError as error:
            raise _OptionError(f"gatekey: --upstream {error}") from None
    return configuration, upstream


def _use_configuration(path: str | None) -> GatekeyConfiguration:
    """The configuration file, checked (every problem one line), and pointed to for this process's functions,
    which read it through active_configuration() as deployed ones do; without a file, the demo store's."""
    from gatekey.configuration import CONFIG_FILE_ENV_VAR, ConfigurationError, load_configuration

    try:
        configuration = load_configuration(path)
    except ConfigurationError as error:
        raise _OptionError("\n".join(error.problems)) from None
    if path:
        os.environ[CONFIG_FILE_ENV_VAR] = str(Path(path).resolve())
    else:
        os.environ.pop(CONFIG_FILE_ENV_VAR, None)
    return configuration


def serve(arguments: argparse.Namespace) -> int:
    try:
        configuration, upstream = _provider_options(arguments)
    except _OptionError as error:
        print(error, file=sys.stderr)
        return 2
    _configure_process(arguments.verbose, arguments.authorizer_cache_ttl)
    from gatekey.bootstrap import found_org
    from gatekey.domain.plans import GATEKEY_API
    from gatekey.local.background import SchedulerTimer, WebhookDeliveryWorker
    from gatekey.local.embedded import EmbeddedAws, ensure_log_ingest_failure_queue
    from gatekey.local.events import ApiStage
    from gatekey.local.gateway import LocalGateway, LocalLambdaContext, lambda_routes, requiring_api_keys
    from gatekey.local.log_shipping import AccessLogShipper
    from gatekey.local.provider import HandlerLoadError, provider_routes

    embedded = None if arguments.storage_endpoint else EmbeddedAws()
    endpoint = arguments.storage_endpoint or embedded.start()  # type: ignore[union-attr]
    try:
        routing = _prepare_local_storage(endpoint)
        usage_plans = _local_usage_plans(configuration)  # before the org is founded: its key joins a usage plan
        tenant = found_org(DEMO_ORG_NAME, "admin@demo-store.example", "Demo Store admin")
    except (BotoCoreError, ClientError) as error:
        print(f"gatekey: cannot reach the storage endpoint {endpoint}: {error}", file=sys.stderr)
        return 2
    _write_secret_file(arguments.admin_key_file, tenant.admin_token)
    _write_secret_file(arguments.partner_key_file, tenant.partner_token)

    handlers = {function.name: _load_handler(function) for function in FUNCTIONS}
    try:
        backend, backend_description = _provider_backend(arguments.handler, upstream, handlers)
    except HandlerLoadError as error:
        print(f"gatekey: --handler {arguments.handler}: {error}", file=sys.stderr)
        if embedded:
            embedded.stop()
        return 2
    api = ApiStage(stage=LOCAL_STAGE)  # what the gateway calls its API, so the log group names the same stage
    shipper = AccessLogShipper(
        handlers[LOG_INGEST.name],
        lambda: LocalLambdaContext(LOG_INGEST.name, api),
        api,
        on_failure_queue_url=ensure_log_ingest_failure_queue(LOCAL_STAGE),
    )
    # Gatekey's own routes first; the provider's API takes whatever they leave (DESIGN §11).
    routes = (
        *lambda_routes(GATEKEY_ROUTES, handlers, authorizer_cached=False, usage_plan_scope=GATEKEY_API),
        *provider_routes(configuration.public_routes, backend),
    )
    gateway = LocalGateway(
        requiring_api_keys(routes) if usage_plans else routes,
        handlers[AUTHORIZER.name],
        stage=api.stage,
        authorizer_cache_ttl=arguments.authorizer_cache_ttl,
        on_access_log=shipper,
        usage_plans=usage_plans,
    )
    deliveries = WebhookDeliveryWorker(
        handlers[WEBHOOK_DELIVERY.name], lambda: LocalLambdaContext(WEBHOOK_DELIVERY.name, api), routing
    )
    schedule = SchedulerTimer(
        handlers[SCHEDULER.name],
        lambda: LocalLambdaContext(SCHEDULER.name, api),
        api,
        schedule_rule_name(LOCAL_STAGE),
        arguments.schedule_interval,
    )
    shipper.start()
    deliveries.start()
    schedule.start()
    host, port = gateway.start(arguments.host, arguments.port)
    console = _local_console(host, port, tenant, arguments.admin_password_file)
    print(
        f"Gatekey is serving on http://{host}:{port} (storage: {endpoint})",
        f"  org:         {tenant.org.name} ({tenant.org.org_id})",
        f"  admin:       {tenant.admin.email} ({tenant.admin.user_id})",
        f"  admin key:   {tenant.admin_token}",
        f"  partner key: {tenant.partner_token}",
        f"  console:     {console.sign_in_url}",
        f"               sign in as {tenant.admin.email} with the password {console.password}",
        f"  config:      {arguments.config or 'the demo store catalog'}",
        f"  backend:     {backend_description} answers every path outside /v1",
        f"  scheduler:   every {arguments.schedule_interval:g} s; webhooks delivered in the background",
        *_plans_line(configuration),
        "Press Ctrl-C to stop.",
        sep="\n",
        flush=True,
    )

    _wait_for_stop_signal()
    gateway.shutdown()
    schedule.stop()
    deliveries.stop()
    shipper.stop()
    if embedded:
        embedded.stop()
    print("Gatekey stopped.", flush=True)
    return 0


def _local_usage_plans(configuration: GatekeyConfiguration) -> UsagePlanEnforcer | None:
    """With plans (DESIGN §13): their usage plans in the embedded API Gateway, held to by the local gateway, whose
    counts the management API of this process reads; without, nothing is limited."""
    plans = configuration.plans
    if not plans.enabled:
        return None
    from gatekey.api import services
    from gatekey.local.embedded import ensure_usage_plans
    from gatekey.local.limits import ApiGatewayUsageKeys, UsageLimiter, UsagePlanEnforcer, local_usage_records

    ensure_usage_plans(LOCAL_STAGE, plans)
    services.count_usage_locally(local_usage_records())
    return UsagePlanEnforcer(ApiGatewayUsageKeys(plans, LOCAL_STAGE), UsageLimiter(local_usage_records()))


def _plans_line(configuration: GatekeyConfiguration) -> list[str]:
    """The line saying which plans the gateway enforces, if any."""
    plans = configuration.plans
    if not plans.enabled:
        return []
    described = []
    for name in plans.names():
        plan = plans[name]
        quota = f", {plan.quota.limit} a {plan.quota.period}" if plan.quota else ""
        default = " (default)" if name == plans.default else ""
        described.append(f"{name}{default}: {plan.rate:g}/s, burst {plan.burst}{quota}")
    return [f"  plans:       enforced by the gateway per API key; {'; '.join(described)}"]


@dataclass(frozen=True)
class _LocalConsole:
    sign_in_url: str
    password: str


def _local_console(host: str, port: int, tenant: FoundedOrg, password_file: str | None) -> _LocalConsole:
    """The console on this gateway: invitation links point here, and the founding admin gets a new password."""
    from gatekey.bootstrap import give_admin_password
    from gatekey.settings import CONSOLE_PATH, CONSOLE_URL_ENV_VAR

    shown_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - naming, not binding
    base = f"http://{shown_host}:{port}/{CONSOLE_PATH}"
    os.environ[CONSOLE_URL_ENV_VAR] = base
    password = secrets.token_urlsafe(18)
    give_admin_password(tenant, password)
    _write_secret_file(password_file, password)
    return _LocalConsole(f"{base}signin.html?org={tenant.org.org_id}", password)


def _wait_for_stop_signal() -> None:
    """Until SIGTERM or Ctrl-C."""
    stopping = threading.Event()

    def stop(signal_number: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopping.wait()


def _provider_backend(
    handler_spec: str | None, upstream: httpx.URL | None, handlers: Mapping[str, LambdaHandler]
) -> tuple[Integration, str]:
    """What answers the provider's API (`--upstream`, `--handler`, else the demo store), and its name;
    HandlerLoadError if the handler cannot be loaded."""
    from gatekey.local.gateway import LambdaProxyIntegration, LocalFunction
    from gatekey.local.provider import handler_function_name, load_handler

    if upstream is not None:
        from gatekey.local.upstream import HttpProxyIntegration

        return HttpProxyIntegration(upstream), f"the upstream {upstream}"
    if handler_spec:
        function = LocalFunction(handler_function_name(handler_spec), load_handler(handler_spec))
        return LambdaProxyIntegration(function), f"the Lambda handler {handler_spec}"
    return LambdaProxyIntegration(LocalFunction(STORE_DEMO.name, handlers[STORE_DEMO.name])), "the demo store"


def _prepare_local_storage(endpoint: str) -> EventRouting:
    """Point this process at the local stage's storage and create what is missing there: tables, the secrets
    key, the event bus with its delivery queues (as the CDK stack creates them in AWS)."""
    from gatekey.local.embedded import create_missing_tables, ensure_event_routing, ensure_kms_keys, point_at_storage
    from gatekey.storage.tables import stage_table_names

    table_names = stage_table_names(LOCAL_STAGE)
    point_at_storage(endpoint, table_names)
    create_missing_tables(table_names)
    ensure_kms_keys(LOCAL_STAGE)
    return ensure_event_routing(LOCAL_STAGE)


def _local_storage_unnamed(stage: str, storage_endpoint: str | None) -> bool:
    """The local stage has no storage of its own: a command for it names `gatekey serve`'s (said if missing)."""
    if stage == LOCAL_STAGE and not storage_endpoint:
        print(
            "gatekey: the local stage's storage is the one `gatekey serve` runs: pass --storage-endpoint "
            "with the URL it printed",
            file=sys.stderr,
        )
        return True
    return False


def _point_at_stage(stage: str, region: str | None, storage_endpoint: str | None) -> None:
    """Configure this process as the stage's functions are: the local stage at `gatekey serve`'s storage."""
    if stage == LOCAL_STAGE:
        assert storage_endpoint is not None
        _configure_process(False, 0)
        _prepare_local_storage(storage_endpoint)
    else:
        _configure_stage(stage, region, storage_endpoint)


def run_scheduled(arguments: argparse.Namespace) -> int:
    """One scheduler run as if the stage's schedule had fired at `--at`; exit 1 if some work failed, 2 if the
    storage cannot be used."""
    import uuid

    from gatekey.domain.clock import from_iso
    from gatekey.domain.errors import StorageUnavailableError
    from gatekey.domain.scheduled_work import ScheduledWorkIncompleteError
    from gatekey.local.events import ApiStage, scheduled_event
    from gatekey.local.gateway import LocalLambdaContext

    try:
        at = from_iso(arguments.at)
    except ValueError:
        print(f"gatekey: --at {arguments.at!r} is not an ISO 8601 time (e.g. 2027-01-31T09:00:00Z)", file=sys.stderr)
        return 2
    stage = arguments.stage
    if _local_storage_unnamed(stage, arguments.storage_endpoint):
        return 2
    api = ApiStage(stage=stage)
    event = scheduled_event(api, schedule_rule_name(stage), at, str(uuid.uuid4()))
    try:
        _point_at_stage(stage, arguments.region, arguments.storage_endpoint)
        report = _load_handler(SCHEDULER)(event, LocalLambdaContext(SCHEDULER.name, api))
    except ScheduledWorkIncompleteError as incomplete:
        print(f"gatekey: the scheduled run at {event['time']} was incomplete: {incomplete}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError, StorageUnavailableError) as error:
        cause = error.__cause__ if isinstance(error, StorageUnavailableError) and error.__cause__ else error
        print(f"gatekey: cannot use the {stage} stage's storage: " + " ".join(str(cause).split()), file=sys.stderr)
        return 2
    print(
        f"Scheduled run at {event['time']}: keys rotated {report['rotated']}, "
        f"expiry notices {report['expiry_notices']}, keys expired {report['expired']}"
    )
    return 0


def redrive_logs(arguments: argparse.Namespace) -> int:
    """Replay log ingest's failed deliveries (its on-failure queue) into the request logs; exit 2 if the stage's
    queue or storage cannot be used, 1 if some messages were not log ingest's and stay queued."""
    from gatekey.domain.errors import StorageUnavailableError
    from gatekey.settings import log_ingest_failure_queue_name

    stage = arguments.stage
    if _local_storage_unnamed(stage, arguments.storage_endpoint):
        return 2
    queue_name = log_ingest_failure_queue_name(stage)
    try:
        _point_at_stage(stage, arguments.region, arguments.storage_endpoint)
        from gatekey.handlers.log_ingest import ingest
        from gatekey.log_redrive import redrive_failed_deliveries
        from gatekey.storage import aws
        from gatekey.storage.failed_deliveries import FailedDeliveryQueue

        queue_url = aws.sqs_client().get_queue_url(QueueName=queue_name)["QueueUrl"]
        report = redrive_failed_deliveries(FailedDeliveryQueue(queue_url), ingest)
    except (BotoCoreError, ClientError, StorageUnavailableError) as error:
        cause = error.__cause__ if isinstance(error, StorageUnavailableError) and error.__cause__ else error
        print(
            f"gatekey: cannot replay the {stage} stage's failed log deliveries ({queue_name}): "
            + " ".join(str(cause).split()),
            file=sys.stderr,
        )
        return 2
    print(
        f"Replayed {report.deliveries} failed log deliveries of the {stage} stage: "
        f"{report.stored} request-log entries stored (each request once)"
    )
    if report.unreadable:
        print(
            f"gatekey: {report.unreadable} messages in {queue_name} are not log ingest's failed deliveries; "
            "they were left in the queue",
            file=sys.stderr,
        )
        return 1
    return 0


def _founding_problem(org_name: str, admin_email: str, admin_name: str) -> str | None:
    """What the management API would refuse in the org's name or the admin's email or name (same models), or None."""
    from pydantic import ValidationError

    from gatekey.api.models import CreateOrgIn, CreateUserIn

    try:
        CreateOrgIn(name=org_name)
        CreateUserIn(email=admin_email, name=admin_name, role="admin")
    except ValidationError as error:
        problem = error.errors()[0]
        option = "--org-name" if error.title == CreateOrgIn.__name__ else f"--admin-{problem['loc'][0]}"
        return f"{option}: {problem['msg']}"
    return None


def _configure_stage(stage: str, region: str | None, storage_endpoint: str | None) -> dict[str, str]:
    """The environment the CDK stack gives the stage's functions: settings, table names, the secrets key's alias."""
    from gatekey.settings import STAGES
    from gatekey.storage.sealing import KMS_KEY_ENV_VAR, SECRET_MAC_KEY_ENV_VAR, kms_alias, secret_mac_alias
    from gatekey.storage.tables import stage_table_names

    table_names = stage_table_names(stage)
    os.environ.update(STAGES[stage].as_environment())
    os.environ.update(table_names)
    os.environ[KMS_KEY_ENV_VAR] = kms_alias(stage)
    os.environ[SECRET_MAC_KEY_ENV_VAR] = secret_mac_alias(stage)
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "gatekey")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    if storage_endpoint:
        # Imported only for an endpoint: against AWS itself the command needs nothing but boto3.
        from gatekey.local.embedded import point_at_storage

        point_at_storage(storage_endpoint, table_names)
    return table_names


def _storage_location(storage_endpoint: str | None) -> str:
    if storage_endpoint:
        return storage_endpoint
    import boto3

    return f"AWS region {boto3.session.Session().region_name or '(none configured: pass --region)'}"


def _missing_tables(table_names: Sequence[str]) -> list[str]:
    """Checked before writing anything, so a half-deployed stage does not end up with half an org."""
    from gatekey.storage import aws

    client = aws.dynamodb_client()
    missing = []
    for name in table_names:
        try:
            client.describe_table(TableName=name)
        except client.exceptions.ResourceNotFoundException:
            missing.append(name)
    return missing


def _deliver_token(path: str | None, token: str) -> str:
    """Write the token to `path` (mode 600) and say where it went; without a file (or if writing fails), the token."""
    if path is None:
        return token
    try:
        _write_secret_file(path, token)
    except OSError as error:
        print(f"gatekey: cannot write {path} ({error.strerror}): the token is printed instead", file=sys.stderr)
        return token
    return f"written to {path}"


def bootstrap(arguments: argparse.Namespace) -> int:
    """Found a deployed stage's first org, admin and keys in its tables; exit 1 if it has them, 2 if unreachable."""
    stage = arguments.stage
    admin_name = arguments.admin_name or f"{arguments.org_name} admin"
    problem = _founding_problem(arguments.org_name, arguments.admin_email, admin_name)
    if problem:
        print(f"gatekey: {problem}", file=sys.stderr)
        return 2
    try:
        _use_configuration(arguments.config)
    except _OptionError as error:
        print(error, file=sys.stderr)
        return 2
    table_names = _configure_stage(stage, arguments.region, arguments.storage_endpoint)
    from gatekey.bootstrap import AlreadyBootstrappedError, bootstrap_stage, invite_admin
    from gatekey.domain.errors import ConflictError, StorageUnavailableError

    try:
        missing = _missing_tables(list(table_names.values()))
        if missing:
            print(
                f"gatekey: the {stage} stage is not deployed in {_storage_location(arguments.storage_endpoint)} "
                f"(no table {', '.join(missing)}): run `npx aws-cdk@2 deploy -c stage={stage}` first",
                file=sys.stderr,
            )
            return 2
        console = _deployed_console_url(stage, arguments.console_url)
        founded = bootstrap_stage(arguments.org_name, arguments.admin_email, admin_name)
        invitation = invite_admin(founded) if console else None
    except AlreadyBootstrappedError:
        print(
            f"gatekey: the {stage} stage was bootstrapped already, nothing was created "
            "(its partner key creates further orgs)",
            file=sys.stderr,
        )
        return 1
    except ConflictError as error:  # plans the stage has no usage plans for (DESIGN §13)
        print(f"gatekey: {error.message}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError, StorageUnavailableError) as error:
        cause = error.__cause__ if isinstance(error, StorageUnavailableError) and error.__cause__ else error
        print(
            f"gatekey: cannot use the {stage} stage's storage in {_storage_location(arguments.storage_endpoint)}: "
            + " ".join(str(cause).split()),
            file=sys.stderr,
        )
        return 2
    print(f"Bootstrapped the {stage} stage:")
    print(f"  org:           {founded.org.name} ({founded.org.org_id})")
    print(f"  admin:         {founded.admin.email} ({founded.admin.user_id})")
    print(f"  admin key:     {founded.admin_key_id} (main)")
    print(f"  admin token:   {_deliver_token(arguments.admin_key_file, founded.admin_token)}")
    print(f"  partner key:   {founded.partner_key_id} (partner)")
    print(f"  partner token: {_deliver_token(arguments.partner_key_file, founded.partner_token)}")
    if invitation:
        print(f"  console:       {founded.admin.email} sets a password at (once, within 7 days):")
        print(f"                 {invitation.url}")
    else:
        print(
            f"  console:       no console URL (pass --console-url): a main key never invites, so give "
            f"{founded.admin.email} a personal key with the admin token (POST /v1/keys, type personal, user_id "
            f"{founded.admin.user_id}) and invite them with it: POST /v1/users/{founded.admin.user_id}/invitation"
        )
    print("Gatekey keeps only the tokens' hashes: they cannot be shown again.")
    return 0


def _deployed_console_url(stage: str, given: str | None) -> str | None:
    """The console's address: --console-url, else the management API URL the stage published in SSM + dashboard/;
    None when neither is there. Set for the functions this process runs, as the CDK construct sets it."""
    from gatekey.settings import CONSOLE_PATH, CONSOLE_URL_ENV_VAR, MANAGEMENT_API_URL_PARAMETER, ssm_parameter_name

    url = given
    if url is None:
        import boto3

        try:
            parameter = boto3.client("ssm").get_parameter(Name=ssm_parameter_name(stage, MANAGEMENT_API_URL_PARAMETER))
            url = parameter["Parameter"]["Value"].rstrip("/") + "/" + CONSOLE_PATH
        except (BotoCoreError, ClientError):
            return None
    os.environ[CONSOLE_URL_ENV_VAR] = url
    return url


def _add_bootstrap_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gatekey.settings import STAGES

    parser = commands.add_parser(
        "bootstrap",
        help="create a deployed stage's first org, admin user, admin main key and partner key (once)",
        description=(
            "Create the first org of a deployed stage, with an admin user, an admin main key holding every "
            "permission and a partner key, in the stage's tables (gatekey-<stage>-*), with the AWS credentials "
            "of the environment. Tokens without a file are printed. Exits 1 if the stage was bootstrapped "
            "already, 2 if its tables cannot be reached."
        ),
    )
    parser.add_argument("--stage", required=True, choices=[name for name in STAGES if name != LOCAL_STAGE])
    parser.add_argument("--org-name", required=True, help="the first org's name")
    parser.add_argument("--admin-email", required=True, help="its admin user's email")
    parser.add_argument("--admin-name", help="its admin user's name (default: '<org name> admin')")
    parser.add_argument("--admin-key-file", help="write the admin main key's token to this file (mode 600)")
    parser.add_argument(
        "--partner-key-file", help="write the partner key's token (creates customer orgs) to this file (mode 600)"
    )
    parser.add_argument(
        "--config",
        help="the configuration file the stage was deployed with (its catalog is what the admin key holds); "
        "default: the demo store's",
    )
    parser.add_argument(
        "--console-url",
        metavar="URL",
        help="the console's address, where the admin's invitation link points: the management API's URL followed by "
        "dashboard/ (default: read from the stage's SSM parameter /gatekey/<stage>/management-api-url)",
    )
    parser.add_argument("--region", help="the stage's AWS region (default: boto3's, e.g. $AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--storage-endpoint", help="use this DynamoDB/KMS endpoint (a moto or LocalStack server) instead of AWS"
    )
    parser.set_defaults(run=bootstrap)


def _add_run_scheduled_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gatekey.settings import STAGES

    parser = commands.add_parser(
        "run-scheduled",
        help="run the scheduler once, as if the stage's schedule fired at the given time",
        description=(
            "Rotate the keys whose rotation is due, send key.expiring notices and mark lapsed keys expired, "
            "as of --at (any time: past runs can be replayed, future ones tried out). The events it publishes "
            "are delivered to webhooks by the stage (locally: by the running `gatekey serve`)."
        ),
    )
    parser.add_argument("--at", required=True, help="the run's time, ISO 8601 (e.g. 2027-01-31T09:00:00Z)")
    parser.add_argument("--stage", default=LOCAL_STAGE, choices=list(STAGES), help="default: local")
    parser.add_argument(
        "--storage-endpoint", help="the DynamoDB/KMS/EventBridge endpoint (local: the URL `gatekey serve` printed)"
    )
    parser.add_argument("--region", help="a deployed stage's AWS region (default: boto3's)")
    parser.set_defaults(run=run_scheduled)


def _add_redrive_logs_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gatekey.settings import STAGES

    parser = commands.add_parser(
        "redrive-logs",
        help="replay the access-log deliveries log ingest failed on into the request logs",
        description=(
            "Lambda keeps the access-log deliveries log ingest failed on, after its retries, in the stage's queue "
            "gatekey-<stage>-log-ingest-failures (14 days). This replays them into the request logs and removes "
            "them from the queue; a request already stored is stored once. Run it with AWS credentials that may "
            "receive and delete messages of that queue and write the stage's request logs."
        ),
    )
    parser.add_argument("--stage", default=LOCAL_STAGE, choices=list(STAGES), help="default: local")
    parser.add_argument("--storage-endpoint", help="the DynamoDB/SQS endpoint (local: the URL `gatekey serve` printed)")
    parser.add_argument("--region", help="a deployed stage's AWS region (default: boto3's)")
    parser.set_defaults(run=redrive_logs)


def build_parser() -> argparse.ArgumentParser:
    from gatekey.settings import STAGES

    parser = argparse.ArgumentParser(prog="gatekey", description="Gatekey: API keys for AWS API Gateway.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser(
        "serve",
        help="run Gatekey locally on embedded DynamoDB and KMS",
        description=(
            "Run Gatekey locally: embedded DynamoDB and KMS, an org with an admin key and a partner key, and a "
            "local API Gateway serving Gatekey's API (/v1, /health) and, on every other path, the API it protects: "
            "the demo store, or the provider's own with --config and --upstream or --handler."
        ),
    )
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8080)
    serve_parser.add_argument("--admin-key-file", help="write the admin main key's token to this file")
    serve_parser.add_argument(
        "--admin-password-file", help="write the admin's console password (a new one each start) to this file"
    )
    serve_parser.add_argument(
        "--partner-key-file", help="write the partner key's token (creates customer orgs) to this file"
    )
    serve_parser.add_argument(
        "--config",
        metavar="FILE",
        help=(
            "the provider's gatekey.toml: its permission catalog, route rules and public routes (default: the "
            "demo store's); a bad file prints one line per problem and exits 2"
        ),
    )
    backend = serve_parser.add_mutually_exclusive_group()
    backend.add_argument(
        "--upstream",
        metavar="URL",
        help=(
            "send every request outside /v1 that the authorizer allows, and every public route, to the provider's "
            "HTTP server at URL (method, path, query, headers, body, plus the Gatekey-* caller headers); its "
            "answer is streamed back (default: the demo store answers)"
        ),
    )
    backend.add_argument(
        "--handler",
        metavar="FILE.py:FUNCTION",
        help=(
            "answer those requests with the provider's Lambda proxy handler instead (FILE.py:FUNCTION or "
            "MODULE:FUNCTION), invoked with the event API Gateway sends it"
        ),
    )
    serve_parser.add_argument(
        "--storage-endpoint", help="use this DynamoDB/KMS endpoint instead of starting an embedded one"
    )
    serve_parser.add_argument(
        "--authorizer-cache-ttl", type=int, default=0, help="seconds API Gateway caches the authorizer's answer"
    )
    serve_parser.add_argument(
        "--schedule-interval",
        type=float,
        default=STAGES[LOCAL_STAGE].schedule_rate_minutes * 60,
        help="seconds between scheduler runs (rotations due, expiry notices, expiry)",
    )
    serve_parser.add_argument("--verbose", action="store_true", help="show the functions' logs")
    serve_parser.set_defaults(run=serve)
    _add_bootstrap_command(commands)
    from gatekey.plan_commands import add_plans_command

    add_plans_command(commands)
    _add_run_scheduled_command(commands)
    _add_redrive_logs_command(commands)
    from gatekey.client.sign_command import add_sign_command

    add_sign_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    result: int = arguments.run(arguments)
    return result


if __name__ == "__main__":
    sys.exit(main())
