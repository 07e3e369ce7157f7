"""The events API Gateway (REST) builds: REQUEST authorizer event, Lambda proxy event v1.0, access log."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote

from gatekey.access_log import render_access_log_line

# API Gateway writes requestTime in Common Log Format; strftime's %b would follow the locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

AuthorizerContextValue = str | int | float | bool


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as it reached the gateway: raw path and query, headers in order with repeats."""

    method: str
    raw_path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The last value of a header (names compare case-insensitively), as API Gateway keeps it."""
        wanted = name.lower()
        values = [value for key, value in self.headers if key.lower() == wanted]
        return values[-1] if values else None


@dataclass(frozen=True)
class ApiStage:
    """The deployed API the request went to: what API Gateway puts in ARNs and the request context."""

    stage: str = "local"
    api_id: str = "gatekeylocal"
    account_id: str = "123456789012"
    region: str = "us-east-1"


class ApiResource(Protocol):
    """An API Gateway resource and method, as a route names them: `/v1/{proxy+}` and `ANY`."""

    @property
    def path(self) -> str: ...

    @property
    def method(self) -> str: ...


@dataclass(frozen=True)
class GatewayRequest:
    """A request matched to a route, with the ids and time API Gateway gives it."""

    http: HttpRequest
    route: ApiResource
    path_parameters: Mapping[str, str] | None
    api: ApiStage
    request_id: str
    received_at: datetime  # timezone-aware

    @property
    def method_arn(self) -> str:
        return method_arn(self.api, self.http.method, self.http.raw_path)


@dataclass(frozen=True)
class AuthorizerOutput:
    """What an allowing authorizer handed on to the integration."""

    principal_id: str
    context: Mapping[str, AuthorizerContextValue]
    latency_ms: int  # 0 when the result came from the authorizer cache, as in API Gateway


def method_arn(api: ApiStage, method: str, raw_path: str) -> str:
    """`arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path without leading slash>`."""
    return (
        f"arn:aws:execute-api:{api.region}:{api.account_id}:{api.api_id}/{api.stage}/"
        f"{method.upper()}/{raw_path.removeprefix('/')}"
    )


def authorizer_request_event(request: GatewayRequest, identity_source: str) -> dict[str, Any]:
    """The REQUEST authorizer event; `identity_source` is the comma-joined values of the identity sources.

    API Gateway does not pass the body to an authorizer. Besides the keys of the documented sample it
    carries `multiValueQueryStringParameters`, as the real service does: HMAC verification needs
    every value of a repeated query parameter.
    """
    http = request.http
    single_query, multi_query = _query_parameters(http.raw_query)
    single_headers, multi_headers = _headers(http.headers)
    identity = _identity(http)
    return {
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": request.method_arn,
        "identitySource": identity_source,
        "authorizationToken": identity_source,
        "resource": request.route.path,
        "path": http.raw_path,
        "httpMethod": http.method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query or {},
        "multiValueQueryStringParameters": multi_query or {},
        "pathParameters": dict(request.path_parameters or {}),
        "stageVariables": {},
        "requestContext": _request_context(request, {**identity, "apiKey": None, "cognitoAmr": None}),
    }


def proxy_event(request: GatewayRequest, authorizer: AuthorizerOutput | None) -> dict[str, Any]:
    """The Lambda proxy integration event (payload 1.0) with the authorizer's context, if any."""
    http = request.http
    single_query, multi_query = _query_parameters(http.raw_query)
    single_headers, multi_headers = _headers(http.headers)
    body, is_base64 = _body(http.body)
    context = _request_context(request, _identity(http))
    context["authorizer"] = None if authorizer is None else _authorizer_context(authorizer)
    return {
        "version": "1.0",
        "resource": request.route.path,
        "path": http.raw_path,
        "httpMethod": http.method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": context,
        "pathParameters": dict(request.path_parameters) if request.path_parameters else None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def access_log_line(
    http: HttpRequest,
    *,
    api: ApiStage,
    request_id: str,
    received_at: datetime,
    resource_path: str | None,
    status: int,
    latency_ms: int,
    authorizer_context: Mapping[str, AuthorizerContextValue] | None,
) -> str:
    """The access-log line API Gateway writes for this request, in the stage's one format (gatekey.access_log)."""
    context = authorizer_context or {}
    values: dict[str, object] = {
        "$context.requestId": request_id,
        "$context.requestTimeEpoch": _epoch_millis(received_at),
        "$context.httpMethod": http.method,
        "$context.path": f"/{api.stage}{http.raw_path}",
        "$context.resourcePath": resource_path,
        "$context.stage": api.stage,
        "$context.status": status,
        "$context.responseLatency": latency_ms,
        "$context.identity.sourceIp": http.source_ip,
        "$context.identity.userAgent": http.header("User-Agent"),
        **{f"$context.authorizer.{name}": value for name, value in context.items()},
    }
    return render_access_log_line(values)


def _request_context(request: GatewayRequest, identity: dict[str, Any]) -> dict[str, Any]:
    http = request.http
    domain_name = _domain_name(request)
    return {
        "accountId": request.api.account_id,
        "apiId": request.api.api_id,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "extendedRequestId": _extended_request_id(request.request_id),
        "httpMethod": http.method,
        "identity": identity,
        "path": f"/{request.api.stage}{http.raw_path}",
        "protocol": http.protocol,
        "requestId": request.request_id,
        "requestTime": _clf_time(request.received_at),
        "requestTimeEpoch": _epoch_millis(request.received_at),
        "resourceId": _resource_id(request.route.path),
        "resourcePath": request.route.path,
        "stage": request.api.stage,
    }


def _identity(http: HttpRequest) -> dict[str, Any]:
    # No IAM caller, Cognito identity or client certificate locally: AWS sends null for each.
    return {
        "accessKey": None,
        "accountId": None,
        "caller": None,
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": None,
        "sourceIp": http.source_ip,
        "user": None,
        "userAgent": http.header("User-Agent"),
        "userArn": None,
        "clientCert": None,
    }


def _authorizer_context(authorizer: AuthorizerOutput) -> dict[str, Any]:
    # API Gateway hands context numbers and booleans on to the integration as strings.
    context: dict[str, Any] = {key: context_string(value) for key, value in authorizer.context.items()}
    context["principalId"] = authorizer.principal_id
    context["integrationLatency"] = authorizer.latency_ms
    return context


def context_string(value: AuthorizerContextValue) -> str:
    """An authorizer context value as the integration receives it: numbers and booleans become strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _headers(headers: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Single-value (last wins) and multi-value headers, grouped under the first spelling of each name."""
    spelling: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        key = spelling.setdefault(name.lower(), name)
        multi.setdefault(key, []).append(value)
    return {key: values[-1] for key, values in multi.items()}, multi


def _query_parameters(raw_query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """Decoded query parameters, null when there are none; `+` stays a plus, as in API Gateway."""
    multi: dict[str, list[str]] = {}
    for pair in raw_query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        multi.setdefault(unquote(name), []).append(unquote(value))
    if not multi:
        return None, None
    return {name: values[-1] for name, values in multi.items()}, multi


def _body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _domain_name(request: GatewayRequest) -> str:
    host = request.http.header("Host")
    if host:
        # The name the client called, without the port (API Gateway is only ever on 443).
        return host[: host.rfind(":")] if host.rfind(":") > host.rfind("]") else host
    return f"{request.api.api_id}.execute-api.{request.api.region}.amazonaws.com"


def _resource_id(resource_path: str) -> str:
    """A stable id shaped like API Gateway's resource ids (six lowercase alphanumerics)."""
    return hashlib.sha256(resource_path.encode()).hexdigest()[:6]


def _extended_request_id(request_id: str) -> str:
    """Shaped like API Gateway's extended request ids (16 base64 characters)."""
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest()[:11]).decode("ascii")


def _clf_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return f"{utc:%d}/{_MONTHS[utc.month - 1]}/{utc:%Y:%H:%M:%S} +0000"


def _epoch_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class LogDelivery:
    """Where CloudWatch Logs says a subscription delivery came from."""

    log_group: str
    log_stream: str
    subscription_filter: str
    owner: str = ApiStage.account_id


def cloudwatch_logs_event(delivery: LogDelivery, lines: Sequence[tuple[int, str]], first_id: int) -> dict[str, Any]:
    """A CloudWatch Logs subscription event (`awslogs.data`: base64 of gzipped JSON) carrying `lines`,
    each `(epoch milliseconds, message)`; event ids count up from `first_id`, as CloudWatch's are unique."""
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": delivery.owner,
        "logGroup": delivery.log_group,
        "logStream": delivery.log_stream,
        "subscriptionFilters": [delivery.subscription_filter],
        "logEvents": [
            {"id": str(first_id + offset).rjust(56, "0"), "timestamp": timestamp, "message": message}
            for offset, (timestamp, message) in enumerate(lines)
        ],
    }
    compressed = gzip.compress(json.dumps(payload, separators=(",", ":")).encode())
    return {"awslogs": {"data": base64.b64encode(compressed).decode("ascii")}}


def scheduled_event(api: ApiStage, rule_name: str, at: datetime, event_id: str) -> dict[str, Any]:
    """The event an EventBridge schedule rule sends its target when it fires at `at` (the sample's shape)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": api.account_id,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": api.region,
        "resources": [f"arn:aws:events:{api.region}:{api.account_id}:rule/{rule_name}"],
        "detail": {},
    }
