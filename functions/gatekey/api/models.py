"""Request and response bodies of the management API; pydantic validates them and OpenAPI documents them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from gatekey.configuration import active_configuration
from gatekey.domain.api_keys import ApiKey, KeyType, RotationPolicy, normalize_cidrs
from gatekey.domain.clock import to_iso
from gatekey.domain.connections import Connection
from gatekey.domain.directory import Organisation, Role, User
from gatekey.domain.events import DomainEvent, EventType
from gatekey.domain.key_lifecycle import NewKey
from gatekey.domain.permissions import InvalidPermissionsError, Permissions, Resource
from gatekey.domain.plan_assignment import Usage
from gatekey.domain.plans import Plan
from gatekey.domain.request_logs import LogEntry
from gatekey.domain.users import NewUser
from gatekey.domain.views import connection_view, key_view, user_view
from gatekey.domain.webhooks import Webhook

LevelName = Literal["read", "write"]
Label = Annotated[StrictStr, Field(min_length=1, max_length=100)]

# RFC 3339, as OpenAPI's `date-time` means it: a full date and time with an offset, nothing looser (no bare
# numbers read as Unix times, no space for the T).
_RFC3339 = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)"
    r"(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)


def _rfc3339_text(value: object) -> object:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time, e.g. 2027-01-31T09:00:00Z")
    if value[17:19] == "60":  # a leap second: Python's datetime has none, the instant is the end of the minute
        value = value[:17] + "59.999999" + value[19:].lstrip(".0123456789")
    return value


DateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _whole_number_text(value: object) -> object:
    """A query parameter's integer as written: digits only (`1.0`, `+1` or `1e0` are not integers there)."""
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,16}", value):
        raise ValueError("must be a whole number, written in digits")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number_text)]

# An IPv4 or IPv6 address, or a CIDR range of either, exactly as the schema says and ip_network reads them.
_IPV4 = r"((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_H16 = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    rf"(({_H16}:){{7}}{_H16}|({_H16}:){{1,7}}:|({_H16}:){{1,6}}:{_H16}|({_H16}:){{1,5}}(:{_H16}){{1,2}}"
    rf"|({_H16}:){{1,4}}(:{_H16}){{1,3}}|({_H16}:){{1,3}}(:{_H16}){{1,4}}|({_H16}:){{1,2}}(:{_H16}){{1,5}}"
    rf"|{_H16}:(:{_H16}){{1,6}}|:((:{_H16}){{1,7}}|:)|({_H16}:){{6}}{_IPV4}|::(ffff(:0{{1,4}})?:)?{_IPV4}"
    rf"|({_H16}:){{1,5}}:{_IPV4}|::({_H16}:){{0,5}}{_IPV4})"
)
IP_OR_CIDR = rf"^({_IPV4}(/(3[0-2]|[12]?[0-9]))?|{_IPV6}(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$"


def _ip_or_cidr_text(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(IP_OR_CIDR, value):
        raise ValueError("not an IP address or CIDR range")  # not repeated: it may be anything pasted there
    return value


IpOrCidr = Annotated[
    StrictStr, BeforeValidator(_ip_or_cidr_text), WithJsonSchema({"type": "string", "pattern": IP_OR_CIDR})
]
IpAllowlist = Annotated[list[IpOrCidr], Field(max_length=100)]


def _catalog_schema(schema: dict[str, Any]) -> None:
    """A permissions object as the deployment's catalog allows it: each resource up to its highest level."""
    schema.clear()
    schema.update(
        type="object",
        properties={
            resource.name: {"type": "string", "enum": list(get_args(LevelName)[: resource.max_level])}
            for resource in active_configuration().catalog.grantable
        },
        additionalProperties=False,
    )


PermissionsIn = Annotated[dict[str, LevelName], Field(json_schema_extra=_catalog_schema)]


class RequestBody(BaseModel):
    """Unknown fields are an error, not silently dropped: a typo must not weaken a key."""

    model_config = ConfigDict(extra="forbid")


class RotationIn(RequestBody):
    interval_days: Annotated[StrictInt, Field(ge=1, le=365)]
    grace_period_seconds: Annotated[StrictInt, Field(ge=0, le=604800)] = 0

    def to_policy(self) -> RotationPolicy:
        return RotationPolicy(self.interval_days, self.grace_period_seconds)


def parse_permissions(raw: dict[str, LevelName]) -> Permissions:
    """Permissions checked against the catalog this deployment is configured with."""
    return active_configuration().catalog.parse(raw)


def _validated_permissions(value: dict[str, LevelName] | None) -> dict[str, LevelName] | None:
    if value is not None:
        try:
            parse_permissions(value)
        except InvalidPermissionsError as error:
            raise ValueError(str(error)) from error
    return value


def _validated_cidrs(value: list[str] | None) -> list[str] | None:
    return normalize_cidrs(value) if value is not None else None


def _requires(condition: dict[str, Any], consequence: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A model-level rule of the schema: when `condition` holds, `consequence` must (JSON Schema if/then)."""

    def add_rule(schema: dict[str, Any]) -> None:
        schema.setdefault("allOf", []).append({"if": condition, "then": consequence})

    return add_rule


def _all_of(*rules: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def add_rules(schema: dict[str, Any]) -> None:
        for rule in rules:
            rule(schema)

    return add_rules


# A rotation policy needs a token Gatekey can reveal after rotating it: a recoverable or an HMAC key.
_ROTATION_NEEDS_REVEALABLE_TOKEN = _requires(
    {"properties": {"rotation": {"type": "object"}}, "required": ["rotation"]},
    {
        "anyOf": [
            {"properties": {"recoverable": {"const": True}}, "required": ["recoverable"]},
            {"properties": {"auth_mode": {"const": "hmac"}}, "required": ["auth_mode"]},
        ]
    },
)
# A main key belongs to the org: it names no user.
_MAIN_KEYS_NAME_NO_USER = _requires(
    {"anyOf": [{"not": {"required": ["type"]}}, {"properties": {"type": {"const": "main"}}}]},
    {"properties": {"user_id": {"type": "null"}}},
)


class KeySettingsIn(RequestBody):
    """What describes any new key: label, how it authenticates, what it may do, until when, from where."""

    model_config = ConfigDict(json_schema_extra=_ROTATION_NEEDS_REVEALABLE_TOKEN)

    label: Label
    auth_mode: Literal["bearer", "hmac"] = "bearer"
    permissions: PermissionsIn = Field(default_factory=dict)
    expires_at: DateTime | None = Field(default=None, description="In the future; null: never expires")
    ip_allowlist: IpAllowlist = Field(default_factory=list)
    recoverable: StrictBool = False
    rotation: RotationIn | None = None

    _check_permissions = field_validator("permissions")(_validated_permissions)
    _check_cidrs = field_validator("ip_allowlist")(_validated_cidrs)

    def to_new_key(self, type: KeyType = "personal", user_id: str | None = None) -> NewKey:
        return NewKey(
            label=self.label,
            type=type,
            user_id=user_id,
            auth_mode=self.auth_mode,
            permissions=parse_permissions(self.permissions),
            expires_at=self.expires_at,
            ip_allowlist=tuple(self.ip_allowlist),
            recoverable=self.recoverable,
            rotation=self.rotation.to_policy() if self.rotation else None,
        )


class CreateKeyIn(KeySettingsIn):
    model_config = ConfigDict(json_schema_extra=_all_of(_ROTATION_NEEDS_REVEALABLE_TOKEN, _MAIN_KEYS_NAME_NO_USER))

    type: Literal["main", "personal"] = "main"
    user_id: Annotated[StrictStr, Field(max_length=64)] | None = Field(
        default=None, description="personal keys: whose key; defaults to the caller's user (admins may name another)"
    )


class UpdateKeyIn(RequestBody):
    """Fields left out stay as they are; `expires_at` or `rotation` set to null are removed."""

    # Left out means unchanged; these three cannot be null, so the schema does not offer null for them.
    label: Label | SkipJsonSchema[None] = None
    permissions: PermissionsIn | SkipJsonSchema[None] = None
    expires_at: DateTime | None = Field(default=None, description="In the future; null removes the expiry")
    ip_allowlist: IpAllowlist | SkipJsonSchema[None] = None
    rotation: RotationIn | None = None

    _check_permissions = field_validator("permissions")(_validated_permissions)
    _check_cidrs = field_validator("ip_allowlist")(_validated_cidrs)

    @field_validator("label", "permissions", "ip_allowlist", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class RotateKeyIn(RequestBody):
    grace_period_seconds: Annotated[StrictInt, Field(ge=0, le=604800)] = 0


class RotationOut(BaseModel):
    interval_days: int
    grace_period_seconds: int


class KeyOut(BaseModel):
    id: str
    org_id: str
    type: str
    user_id: str | None
    label: str
    hint: str
    auth_mode: str
    permissions: dict[str, LevelName]
    status: Literal["active", "revoked", "expired"]
    created_at: str
    created_by: str
    last_used_at: str | None
    expires_at: str | None
    ip_allowlist: list[str]
    recoverable: bool
    rotation: RotationOut | None
    rotated_at: str | None
    plan: str | None = Field(
        default=None, description="A plan of the key's own (DESIGN §13); null: it counts in its organisation's plan"
    )

    @classmethod
    def of(cls, key: ApiKey, now: datetime) -> KeyOut:
        return cls.model_validate(key_view(key, now))


class KeyWithSecretOut(KeyOut):
    secret: str = Field(description="The token. Shown only in this response: store it now.")


class KeyListOut(BaseModel):
    data: list[KeyOut]
    next_cursor: str | None


class LogEntryOut(BaseModel):
    request_id: str
    key_id: str | None
    method: str
    path: str
    status: int
    latency_ms: int | None
    ip: str | None
    user_agent: str | None
    timestamp: str

    @classmethod
    def of(cls, entry: LogEntry) -> LogEntryOut:
        return cls(
            request_id=entry.request_id,
            key_id=entry.key_id,
            method=entry.method,
            path=entry.path,
            status=entry.status,
            latency_ms=entry.latency_ms,
            ip=entry.ip,
            user_agent=entry.user_agent,
            timestamp=to_iso(entry.timestamp),
        )


class LogListOut(BaseModel):
    data: list[LogEntryOut]
    next_cursor: str | None


class OrgOut(BaseModel):
    id: str
    name: str
    key_limit: int
    created_at: str
    partner_id: str | None = Field(default=None, description="The org of the partner that created this org, if any")
    plan: str | None = Field(default=None, description="The organisation's plan (DESIGN §13); null without plans")

    @classmethod
    def of(cls, org: Organisation) -> OrgOut:
        return cls(
            id=org.org_id,
            name=org.name,
            key_limit=org.key_limit,
            created_at=to_iso(org.created_at),
            partner_id=org.partner_id,
            plan=org.plan,
        )


class OrgListOut(BaseModel):
    data: list[OrgOut]
    next_cursor: str | None


class CreateOrgIn(RequestBody):
    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    key_limit: Annotated[StrictInt, Field(ge=1, le=1000)] | None = None


class UserOut(BaseModel):
    id: str
    org_id: str
    email: str
    name: str
    role: Role
    created_at: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls.model_validate(user_view(user))


class UserListOut(BaseModel):
    data: list[UserOut]
    next_cursor: str | None


# No space or control character, one @, a dot after it. Spelled without \s, whose meaning differs between
# Python's regular expressions and the ECMA ones JSON Schema (and so the OpenAPI document) uses.
EMAIL_PATTERN = r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$"


class CreateUserIn(RequestBody):
    email: Annotated[StrictStr, Field(max_length=254, pattern=EMAIL_PATTERN)]
    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    role: Role = "member"

    def to_new_user(self) -> NewUser:
        return NewUser(email=self.email, name=self.name, role=self.role)


ConnectionField = Annotated[StrictStr, Field(min_length=1, max_length=100)]


class CreateConnectionIn(RequestBody):
    provider_slug: ConnectionField = Field(description="The integration this end-user connected, e.g. `hubspot`")
    end_user_id: ConnectionField = Field(description="Your id for the end-user the connection is for")


class CallerConnectionOut(BaseModel):
    """The connection a request's `X-Connection-Token` opened."""

    id: str
    provider_slug: str
    end_user_id: str
    created_at: str

    @classmethod
    def of(cls, connection: Connection) -> CallerConnectionOut:
        return cls(
            id=connection.connection_id,
            provider_slug=connection.provider_slug,
            end_user_id=connection.end_user_id,
            created_at=to_iso(connection.created_at),
        )


class ConnectionOut(BaseModel):
    id: str
    org_id: str
    provider_slug: str
    end_user_id: str
    created_at: str
    created_by: str

    @classmethod
    def of(cls, connection: Connection) -> ConnectionOut:
        return cls.model_validate(connection_view(connection))


class ConnectionWithTokenOut(ConnectionOut):
    connection_token: str = Field(
        description="Send it as `X-Connection-Token` with calls for this end-user. Shown only in this response."
    )


class ConnectionListOut(BaseModel):
    data: list[ConnectionOut]
    next_cursor: str | None


class MeOut(BaseModel):
    key: KeyOut
    org: OrgOut
    user: UserOut | None
    connection: CallerConnectionOut | None


class CreateWebhookIn(RequestBody):
    url: Annotated[StrictStr, Field(min_length=1, max_length=2048, description="https URL the events are POSTed to")]
    events: Annotated[list[Literal[EventType, "*"]], Field(min_length=1, max_length=20)] = Field(
        description='Event types to deliver, or `["*"]` for every type'
    )


class WebhookOut(BaseModel):
    id: str
    org_id: str
    url: str
    events: list[str]
    created_at: str
    created_by: str

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        return cls(
            id=webhook.webhook_id,
            org_id=webhook.org_id,
            url=webhook.url,
            events=list(webhook.event_types),
            created_at=to_iso(webhook.created_at),
            created_by=webhook.created_by,
        )


class WebhookWithSecretOut(WebhookOut):
    secret: str = Field(
        description="Verifies `Gatekey-Signature` on every delivery (DESIGN §8). Shown only in this response."
    )


class WebhookListOut(BaseModel):
    data: list[WebhookOut]
    next_cursor: str | None


class EventOut(BaseModel):
    """The §8 envelope. Secret fields (connection.created's `connection_token`) reach webhooks only."""

    id_event: str
    type: str
    created_at: str
    org_id: str
    data: dict[str, Any]

    @classmethod
    def of(cls, event: DomainEvent) -> EventOut:
        return cls.model_validate(event.envelope())


class PermissionOut(BaseModel):
    resource: str
    max_level: LevelName = Field(description="The highest level a key may hold on it; write includes read")
    description: str

    @classmethod
    def of(cls, resource: Resource) -> PermissionOut:
        return cls(resource=resource.name, max_level=resource.max_level.label, description=resource.description)


class PermissionListOut(BaseModel):
    data: list[PermissionOut]


class EventListOut(BaseModel):
    data: list[EventOut]
    next_cursor: str | None


# The console (DESIGN §12)

Password = Annotated[StrictStr, Field(min_length=12, max_length=128)]


class SignInIn(RequestBody):
    org_id: Annotated[StrictStr, Field(max_length=40, description="The organisation's id, `org_…`")]
    email: Annotated[StrictStr, Field(max_length=254)]
    # Any length is checked (against nothing, for an unknown email) and refused alike; up to 128 as set.
    password: Annotated[StrictStr, Field(max_length=128)]


class SessionOut(BaseModel):
    """A console session: who signed in, to which organisation, until when (the cookie carries the session)."""

    user: UserOut
    org: OrgOut
    expires_at: str


class AcceptInvitationIn(RequestBody):
    token: Annotated[StrictStr, Field(max_length=200, description="The `token` of the invitation link")]
    password: Password


class InvitationAcceptedOut(BaseModel):
    org_id: str
    email: str


class InvitationOut(BaseModel):
    """A one-time link where the user sets their password; it is shown once and also sent as `user.invited`."""

    invitation_url: str
    expires_at: str


# Plans (DESIGN §13)


def _plan_schema(schema: dict[str, Any]) -> None:
    """A plan's name as the deployment's configuration has them (none: any name, and the answer is 409)."""
    names = active_configuration().plans.names()
    if names:
        schema["enum"] = names


# The deployment's plan names are the schema (an enum); without plans any name is answered 409 plans_unavailable.
PlanName = Annotated[StrictStr, Field(min_length=1, max_length=40, json_schema_extra=_plan_schema)]


class PlanIn(RequestBody):
    plan: PlanName = Field(description="One of the deployment's plans")


class QuotaOut(BaseModel):
    limit: int
    period: Literal["day", "week", "month"]


class PlanOut(BaseModel):
    name: str
    rate: float = Field(description="Requests per second, steady")
    burst: int = Field(description="Requests above the rate at once")
    quota: QuotaOut | None

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        quota = QuotaOut(limit=plan.quota.limit, period=plan.quota.period) if plan.quota else None
        return cls(name=plan.name, rate=plan.rate, burst=plan.burst, quota=quota)


class DailyUsageOut(BaseModel):
    date: str = Field(description="A day in UTC, YYYY-MM-DD")
    requests: int


class UsageOut(BaseModel):
    """The organisation's plan (or a key's own) and what was used of it."""

    plan: PlanOut | None = Field(description="null: the deployment has no plans")
    key_id: str | None = Field(description="The key with a plan of its own this is about; null: the organisation")
    period_start: str | None = Field(description="The current quota period (UTC); null without a quota")
    period_end: str | None
    used: int | None = Field(description="Requests counted in the current quota period")
    remaining: int | None
    daily: list[DailyUsageOut] = Field(description="Requests per day, the last 30 days, oldest first")

    @classmethod
    def of(cls, usage: Usage) -> UsageOut:
        period = usage.period
        return cls(
            plan=PlanOut.of(usage.plan) if usage.plan else None,
            key_id=usage.subject if not usage.subject.startswith("org_") else None,
            period_start=to_iso(period[0]) if period else None,
            period_end=to_iso(period[1]) if period else None,
            used=usage.used,
            remaining=usage.remaining,
            daily=[DailyUsageOut(date=day.isoformat(), requests=count) for day, count in usage.daily],
        )
