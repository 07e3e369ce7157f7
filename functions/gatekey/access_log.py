"""The one access-log format: the JSON line API Gateway writes per request, read back by the log-ingest function.

The CDK stage writes `ACCESS_LOG_FORMAT` as its access-log format; the local gateway renders the same
format from the same `$context` variables; `AccessLogLine` parses a line by the same field names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

# JSON field name -> the API Gateway `$context` variable written there. Every value is quoted, so a line
# stays valid JSON when a variable has no value (API Gateway then writes "-").
ACCESS_LOG_FORMAT: dict[str, str] = {
    "requestId": "$context.requestId",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",  # with the stage in front: /<stage>/...
    "resourcePath": "$context.resourcePath",
    "stage": "$context.stage",
    "status": "$context.status",
    "responseLatency": "$context.responseLatency",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "keyId": "$context.authorizer.keyId",
    "orgId": "$context.authorizer.orgId",
}
# What API Gateway writes for a variable without a value.
NO_VALUE = "-"


def access_log_format_string() -> str:
    """The stage's `accessLogSetting.format`: one JSON object per line."""
    return json.dumps(ACCESS_LOG_FORMAT)


def render_access_log_line(context_values: Mapping[str, object]) -> str:
    """The line API Gateway writes, given each `$context` variable's value (missing or empty: "-")."""

    def text(value: object) -> str:
        if value is None or value == "":
            return NO_VALUE
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return json.dumps({name: text(context_values.get(variable)) for name, variable in ACCESS_LOG_FORMAT.items()})


def _absent_as_none(value: object) -> object:
    return None if value == NO_VALUE else value


class AccessLogLine(BaseModel):
    """One access-log line as the log-ingest function reads it; field aliases are ACCESS_LOG_FORMAT's names."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str = Field(alias="requestId", min_length=1)
    request_time_epoch_ms: int = Field(alias="requestTimeEpoch", ge=0)
    method: str = Field(alias="httpMethod", min_length=1)
    path: str = Field(min_length=1)
    resource_path: str | None = Field(alias="resourcePath", default=None)
    stage: str | None = None
    status: int = Field(ge=100, le=599)
    latency_ms: int | None = Field(alias="responseLatency", default=None, ge=0)
    ip: str | None = None
    user_agent: str | None = Field(alias="userAgent", default=None)
    key_id: str | None = Field(alias="keyId", default=None)
    org_id: str | None = Field(alias="orgId", default=None)

    _no_value_is_none = field_validator(
        "resource_path", "stage", "latency_ms", "ip", "user_agent", "key_id", "org_id", mode="before"
    )(_absent_as_none)

    @property
    def path_within_api(self) -> str:
        """The path as the client called it, without API Gateway's `/<stage>` in front."""
        prefix = f"/{self.stage}" if self.stage else ""
        if prefix and (self.path == prefix or self.path.startswith(prefix + "/")):
            return self.path[len(prefix) :] or "/"
        return self.path
