"""The domain services the API routes call, wired once per Lambda container from its environment."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from functools import lru_cache

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from gatekey.configuration import GatekeyConfiguration, active_configuration
from gatekey.domain.activity_scope import ActivityScope, VisibleEventHistory
from gatekey.domain.connection_management import ConnectionService
from gatekey.domain.console_access import ConsoleAccess
from gatekey.domain.errors import ForbiddenError
from gatekey.domain.events import EventHistory, EventPublisher
from gatekey.domain.hashing import SecretVerifier
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle
from gatekey.domain.partners import PartnerOrgs
from gatekey.domain.permissions import Level
from gatekey.domain.plan_assignment import PlanAssignment
from gatekey.domain.plans import UsageRecords
from gatekey.domain.request_logs import RequestLogReader
from gatekey.domain.scheduled_work import ScheduledWork
from gatekey.domain.users import UserAdministration
from gatekey.domain.webhooks import WebhookRegistry
from gatekey.settings import StageSettings, console_url
from gatekey.storage.connections_repository import ConnectionsRepository
from gatekey.storage.directory_repository import DirectoryRepository
from gatekey.storage.event_bus import EventBridgeBus
from gatekey.storage.events_repository import EventsRepository
from gatekey.storage.keys_repository import KeysRepository
from gatekey.storage.request_logs_repository import RequestLogsRepository
from gatekey.storage.sealing import KmsPepper, KmsSealer, KmsSecretVault
from gatekey.storage.tables import (
    CONNECTIONS_TABLE,
    DIRECTORY_TABLE,
    EVENTS_TABLE,
    KEYS_TABLE,
    REQUEST_LOGS_TABLE,
    WEBHOOKS_TABLE,
)
from gatekey.storage.usage_plans import ApiGatewayUsagePlans
from gatekey.storage.webhooks_repository import WebhooksRepository


@lru_cache(maxsize=1)
def settings() -> StageSettings:
    return StageSettings.from_environment()


def configuration() -> GatekeyConfiguration:
    """The provider's catalog and route rules, as this function was deployed with them."""
    return active_configuration()


@lru_cache(maxsize=1)
def keys_repository() -> KeysRepository:
    return KeysRepository(KEYS_TABLE.name(), DIRECTORY_TABLE.name())


@lru_cache(maxsize=1)
def directory() -> DirectoryRepository:
    return DirectoryRepository(DIRECTORY_TABLE.name())


@lru_cache(maxsize=1)
def event_publisher() -> EventPublisher:
    retention = timedelta(days=settings().event_retention_days)
    return EventPublisher(EventsRepository(EVENTS_TABLE.name()), EventBridgeBus(), KmsSealer(), retention)


@lru_cache(maxsize=1)
def event_history() -> EventHistory:
    return EventHistory(EventsRepository(EVENTS_TABLE.name()), timedelta(days=settings().event_retention_days))


@lru_cache(maxsize=1)
def activity_scope() -> ActivityScope:
    return ActivityScope(key_lifecycle(), directory())


@lru_cache(maxsize=1)
def visible_event_history() -> VisibleEventHistory:
    retention = timedelta(days=settings().event_retention_days)
    return VisibleEventHistory(EventsRepository(EVENTS_TABLE.name()), activity_scope(), retention)


@lru_cache(maxsize=1)
def webhook_registry() -> WebhookRegistry:
    return WebhookRegistry(
        WebhooksRepository(WEBHOOKS_TABLE.name()),
        KmsSealer(),
        loopback_allowed=settings().loopback_webhooks_allowed,
    )


@lru_cache(maxsize=1)
def scheduled_work() -> ScheduledWork:
    return ScheduledWork(keys_repository(), key_lifecycle(), event_publisher(), plan_assignment())


@lru_cache(maxsize=1)
def pepper() -> KmsPepper:
    """The stage's pepper: key-secret hashes and the API Gateway key values of plans both derive from it."""
    return KmsPepper()


CURSOR_KEY_LABEL = b"gatekey: the key of list cursors' MACs, version 1"


@lru_cache(maxsize=1)
def cursor_key() -> bytes:
    """The stage's key for list cursors' MACs, derived from the pepper (no KMS call of its own): every function of
    the stage derives the same, and no table holds it. Its own label keeps it apart from the pepper's other uses."""
    return hmac.new(pepper().key(), CURSOR_KEY_LABEL, hashlib.sha256).digest()


@lru_cache(maxsize=1)
def usage_plans() -> ApiGatewayUsagePlans:
    return ApiGatewayUsagePlans(settings().stage, pepper())


# Under `gatekey serve`, the local gateway's counters (moto has no GetUsage): `count_usage_locally` sets them.
_local_usage_records: UsageRecords | None = None


def count_usage_locally(records: UsageRecords) -> None:
    """`gatekey serve`, before its first request: plans' usage is what its local gateway, in this process, counted."""
    global _local_usage_records  # noqa: PLW0603 - the one switch from API Gateway's data to the local gateway's
    _local_usage_records = records
    plan_assignment.cache_clear()


def usage_records() -> UsageRecords:
    """API Gateway's usage data; under `gatekey serve`, its local gateway's counters (the same numbers)."""
    return _local_usage_records or usage_plans()


@lru_cache(maxsize=1)
def plan_assignment() -> PlanAssignment:
    return PlanAssignment(
        configuration().plans,
        usage_plans(),
        usage_records(),
        directory(),
        keys_repository(),
        events=event_publisher(),
    )


@lru_cache(maxsize=1)
def key_lifecycle() -> KeyLifecycle:
    stage = settings()
    return KeyLifecycle(
        keys_repository(),
        SecretVerifier(stage.key_secret_argon2, pepper()),
        stage.token_prefix,
        KmsSecretVault(),
        directory=directory(),
        events=event_publisher(),
        catalog=configuration().catalog,
        # A cached authorizer answer is keyed on the Authorization header, which signed requests lack.
        hmac_enabled=stage.authorizer_cache_ttl_seconds == 0,
        plans=plan_assignment(),
    )


@lru_cache(maxsize=1)
def user_administration() -> UserAdministration:
    return UserAdministration(directory(), key_lifecycle(), events=event_publisher())


@lru_cache(maxsize=1)
def partner_orgs() -> PartnerOrgs:
    return PartnerOrgs(
        directory(),
        user_administration(),
        key_lifecycle(),
        webhook_registry(),
        plan_assignment(),
        default_key_limit=settings().default_key_limit,
    )


@lru_cache(maxsize=1)
def console_access() -> ConsoleAccess:
    return ConsoleAccess(
        directory(),
        directory(),
        directory(),
        key_lifecycle(),
        password_cost=settings().password_argon2,
        catalog=configuration().catalog,
        console_url=console_url(),
        events=event_publisher(),
    )


@lru_cache(maxsize=1)
def request_log_reader() -> RequestLogReader:
    retention = timedelta(days=settings().log_retention_days)
    return RequestLogReader(RequestLogsRepository(REQUEST_LOGS_TABLE.name()), retention)


def current_caller(app: BaseRouter) -> Caller:
    """The calling key, from the context the authorizer attached to this request."""
    event = app.current_event
    assert isinstance(event, APIGatewayProxyEvent)  # the REST API is the only event source
    context = event.request_context.authorizer
    key_id, org_id = context.get("keyId"), context.get("orgId")
    if not key_id or not org_id:
        # Only reachable if the function is invoked without the authorizer in front of it.
        raise ForbiddenError("this route needs an authorized key")
    permissions = json.loads(context.get("permissions") or "{}")
    return Caller(
        key_id=key_id,
        org_id=org_id,
        user_id=context.get("userId") or None,
        key_type=context.get("keyType") or "main",
        permissions={resource: Level.parse(level) for resource, level in permissions.items()},
        connection_id=context.get("connectionId") or None,
    )


@lru_cache(maxsize=1)
def connection_service() -> ConnectionService:
    return ConnectionService(
        ConnectionsRepository(CONNECTIONS_TABLE.name()),
        events=event_publisher(),
        # A cached authorizer answer is keyed on Authorization and source IP, which leave X-Connection-Token out.
        enabled=settings().authorizer_cache_ttl_seconds == 0,
    )
