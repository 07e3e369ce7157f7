"""Request and response bodies of the management API; pydantic validates them and OpenAPI documents them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from gatekey.configuration import active_configuration
from gatekey.domain.api_keys import ApiKey, KeyType, RotationPolicy, normalize_cidrs
from gatekey.domain.clock import to_iso
from gatekey.domain.connections import Connection
from gatekey.domain.directory import Organisation, Role, User
from gatekey.domain.events import DomainEvent
from gatekey.domain.key_lifecycle import NewKey
from gatekey.domain.permissions import InvalidPermissionsError, Permissions, Resource
from gatekey.domain.request_logs import LogEntry
from gatekey.domain.users import NewUser
from gatekey.domain.views import connection_view, key_view, user_view
from gatekey.domain.webhooks import Webhook

LevelName = Literal["read", "write"]
Label = Annotated[StrictStr, Field(min_length=1, max_length=100)]
IpAllowlist = Annotated[list[StrictStr], Field(max_length=100)]


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


class KeySettingsIn(RequestBody):
    """What describes any new key: label, how it authenticates, what it may do, until when, from where."""

    label: Label
    auth_mode: Literal["bearer", "hmac"] = "bearer"
    permissions: dict[str, LevelName] = Field(default_factory=dict)
    expires_at: AwareDatetime | None = None
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
    type: Literal["main", "personal"] = "main"
    user_id: Annotated[StrictStr, Field(max_length=64)] | None = Field(
        default=None, description="personal keys: whose key; defaults to the caller's user (admins may name another)"
    )


class UpdateKeyIn(RequestBody):
    """Fields left out stay as they are; `expires_at` or `rotation` set to null are removed."""

    label: Label | None = None
    permissions: dict[str, LevelName] | None = None
    expires_at: AwareDatetime | None = None
    ip_allowlist: IpAllowlist | None = None
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

    @classmethod
    def of(cls, org: Organisation) -> OrgOut:
        return cls(
            id=org.org_id,
            name=org.name,
            key_limit=org.key_limit,
            created_at=to_iso(org.created_at),
            partner_id=org.partner_id,
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


class CreateUserIn(RequestBody):
    email: Annotated[StrictStr, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
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
    events: Annotated[list[StrictStr], Field(min_length=1, max_length=20)] = Field(
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
