"""A local API Gateway (REST): routing, Lambda authorizer and its cache, integrations, access log."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.api_gateway import (
    ACCESS_DENIED,
    AUTHORIZER,
    AUTHORIZER_CACHE_IDENTITY_SOURCES,
    AUTHORIZER_FAILURE,
    DEFAULT_5XX,
    MISSING_ROUTE,
    REQUEST_TOO_LARGE,
    UNAUTHORIZED,
    GatewayResponse,
    GatewayRoute,
)
from gatekey.domain.permissions import HTTP_METHODS
from gatekey.domain.plans import PROTECTED_APIS, UsagePlanScope
from gatekey.local.events import (
    ApiResource,
    ApiStage,
    AuthorizerContextValue,
    AuthorizerOutput,
    GatewayRequest,
    HttpRequest,
    access_log_line,
    authorizer_request_event,
    proxy_event,
)
from gatekey.local.policy import is_allowed
from gatekey.settings import API_VERSION

if TYPE_CHECKING:
    from gatekey.local.limits import UsagePlanEnforcer

logger = logging.getLogger(__name__)

LambdaHandler = Callable[[dict[str, Any], LambdaContext], Any]
AccessLogCallback = Callable[[str], None]  # receives each access-log line

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# A function that failed: API Gateway's own answer, in Gatekey's DEFAULT_5XX response.
_INTERNAL_ERROR = DEFAULT_5XX.answer("Internal server error")
_ERROR_HEADERS = tuple(DEFAULT_5XX.headers.items())
# The server frames responses itself; a function's values for these would corrupt the stream.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
_HEADER_SOURCE = "method.request.header."
_SOURCE_IP_SOURCE = "context.identity.sourceIp"


@dataclass(frozen=True)
class StreamedBody:
    """A body passed on to the client while it arrives, rather than held whole (an HTTP upstream's answer)."""

    chunks: Iterator[bytes]  # raises BodyInterruptedError if the source breaks off
    length: int | None  # the Content-Length announced beforehand; without one the body goes out chunked
    close: Callable[[], None]  # called once, when the body is sent or abandoned


class BodyInterruptedError(Exception):
    """A streamed body's source broke off part-way; the client's connection is closed, so it sees a short body."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes | StreamedBody


class Integration(Protocol):
    """What answers a request once the gateway has let it through: a Lambda function, or an HTTP server."""

    def respond(self, request: GatewayRequest, authorizer: AuthorizerOutput | None) -> HttpResponse: ...


@dataclass(frozen=True)
class LocalRoute:
    """A route of the local gateway: an API Gateway resource and method, whether the authorizer guards it,
    and the integration behind it."""

    path: str  # `/literal`, `/{param}` or a final `/{proxy+}`
    method: str  # an HTTP method, or "ANY"
    authorized: bool
    integration: Integration
    # False for Gatekey's own API, whose authorizer never caches (a console session carries no Authorization
    # header to key a cache on); the provider's API caches at the gateway's TTL.
    authorizer_cached: bool = True
    # API Gateway's `apiKeyRequired`, with the API's key source the authorizer: the request counts against the
    # key the authorizer names (`usageIdentifierKey`) and is held to its usage plan (DESIGN §13) for this API:
    # the protected APIs', or Gatekey's own.
    api_key_required: bool = False
    usage_plan_scope: UsagePlanScope = PROTECTED_APIS


def requiring_api_keys(routes: Sequence[LocalRoute]) -> tuple[LocalRoute, ...]:
    """The routes with every authorized one requiring an API key, as the construct sets them up when there are
    plans; public routes are never limited."""
    return tuple(replace(route, api_key_required=True) if route.authorized else route for route in routes)


RouteT = TypeVar("RouteT", bound=ApiResource)


@dataclass(frozen=True)
class RouteMatch(Generic[RouteT]):
    route: RouteT
    path_parameters: dict[str, str] | None


class MalformedResponseError(ValueError):
    """A function returned something API Gateway would not accept."""


class LocalLambdaContext(LambdaContext):
    """The context object Lambda passes to a handler, for one invocation."""

    def __init__(self, function_name: str, api: ApiStage, timeout_seconds: float = 29.0) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._invoked_function_arn = f"arn:aws:lambda:{api.region}:{api.account_id}:function:{function_name}"
        self._memory_limit_in_mb = 512
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def match_route(method: str, raw_path: str, routes: Sequence[RouteT]) -> RouteMatch[RouteT] | None:
    """API Gateway's choice: the most specific matching resource (literal segments before `{param}`
    before `{proxy+}`), then its exact method or ANY. A method the resource lacks is a missing route,
    even when a greedier resource has it."""
    on_resource = _most_specific_resource(raw_path, routes)
    for wanted in (method.upper(), "ANY") if method.upper() in HTTP_METHODS else (method.upper(),):
        for route, params in on_resource:
            if route.method == wanted:
                return RouteMatch(route, params or None)
    return None


def resource_methods(raw_path: str, routes: Sequence[ApiResource]) -> tuple[str, ...]:
    """The methods the most specific resource matching the path has (ANY standing for all of them)."""
    methods = {route.method for route, _ in _most_specific_resource(raw_path, routes)}
    return HTTP_METHODS if "ANY" in methods else tuple(sorted(methods))


def _most_specific_resource(raw_path: str, routes: Sequence[RouteT]) -> list[tuple[RouteT, dict[str, str]]]:
    """The routes on the most specific resource matching the path, each with its path parameters."""
    matches = [(found[0], route, found[1]) for route in routes if (found := _match_resource(route.path, raw_path))]
    if not matches:
        return []
    best = min(rank for rank, _, _ in matches)
    return [(route, params) for rank, route, params in matches if rank == best]


def _match_resource(resource: str, raw_path: str) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """The match's rank (0 literal, 1 parameter, 2 greedy, per segment) and its decoded path parameters."""
    parts = resource.split("/")[1:] if resource != "/" else []
    # A REST API matches `/a/b/` as `/a/b` (the integration still gets the path as sent).
    path = raw_path[:-1] if len(raw_path) > 1 and raw_path.endswith("/") else raw_path
    segments = path.split("/")[1:] if path != "/" else []
    rank: list[int] = []
    params: dict[str, str] = {}
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            rest = "/".join(segments[index:])
            if not rest:
                return None
            params[part[1:-2]] = unquote(rest)
            return (*rank, 2), params
        if index >= len(segments) or not segments[index]:
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = unquote(segments[index])
            rank.append(1)
        elif unquote(segments[index]) == part:
            rank.append(0)
        else:
            return None
    return (tuple(rank), params) if len(segments) == len(parts) else None


class LocalFunction:
    """A Lambda function's handler run as one Lambda container runs it: one event at a time (handlers keep
    per-invocation module state), each with a fresh context."""

    def __init__(self, name: str, handler: LambdaHandler) -> None:
        self.name = name
        self._handler = handler
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any], api: ApiStage) -> object:
        context = LocalLambdaContext(self.name, api)
        with self._lock:
            return self._handler(event, context)


class LambdaProxyIntegration:
    """API Gateway's Lambda proxy integration: the proxy event in, the function's answer out as HTTP; a function
    that fails or answers something malformed is 502, as in API Gateway."""

    def __init__(self, function: LocalFunction) -> None:
        self.function = function

    def respond(self, request: GatewayRequest, authorizer: AuthorizerOutput | None) -> HttpResponse:
        try:
            return _proxy_response(self.function.invoke(proxy_event(request, authorizer), request.api))
        except Exception:
            logger.exception("the %s function failed or returned a malformed response", self.function.name)
            return HttpResponse(502, _ERROR_HEADERS, _INTERNAL_ERROR)


def lambda_routes(
    routes: Sequence[GatewayRoute],
    handlers: Mapping[str, LambdaHandler],
    *,
    authorizer_cached: bool = True,
    usage_plan_scope: UsagePlanScope = PROTECTED_APIS,
) -> tuple[LocalRoute, ...]:
    """Routes to Lambda functions, each function's handler behind one proxy integration (one container)."""
    names = {route.function.name for route in routes}
    if missing := names - handlers.keys():
        raise ValueError(f"no handler for the Lambda functions {sorted(missing)}")
    integrations = {name: LambdaProxyIntegration(LocalFunction(name, handlers[name])) for name in names}
    return tuple(
        LocalRoute(
            route.path,
            route.method,
            route.authorized,
            integrations[route.function.name],
            authorizer_cached,
            usage_plan_scope=usage_plan_scope,
        )
        for route in routes
    )


@dataclass(frozen=True)
class _Authorization:
    principal_id: str
    context: dict[str, AuthorizerContextValue]
    response: Mapping[str, Any]  # kept whole: a cached policy is evaluated again for every method ARN
    usage_identifier_key: str | None = None  # the value of the API Gateway key the request counts against


class LocalGateway:
    """API Gateway (REST) over a local HTTP server: each request to its route, through the Lambda authorizer
    where the route is guarded, then to the route's integration, exactly as API Gateway drives them."""

    def __init__(
        self,
        routes: Sequence[LocalRoute],
        authorizer: LambdaHandler,
        *,
        stage: str = "local",
        authorizer_cache_ttl: float = 0,
        on_access_log: AccessLogCallback | None = None,
        api_id: str = "gatekeylocal",
        account_id: str = "123456789012",
        region: str = "us-east-1",
        verbose: bool = False,
        clock: Callable[[], float] = time.monotonic,
        usage_plans: UsagePlanEnforcer | None = None,
    ) -> None:
        for source in AUTHORIZER_CACHE_IDENTITY_SOURCES:
            if not source.startswith(_HEADER_SOURCE) and source != _SOURCE_IP_SOURCE:
                raise ValueError(f"unsupported authorizer identity source {source!r}")
        if usage_plans is None and any(route.api_key_required for route in routes):
            raise ValueError("routes require an API key, but the gateway has no usage plans to hold them to")
        self._usage_plans = usage_plans
        self.api = ApiStage(stage=stage, api_id=api_id, account_id=account_id, region=region)
        self.verbose = verbose
        self.routes = tuple(routes)
        self._authorizer = LocalFunction(AUTHORIZER.name, authorizer)
        self._cache_ttl = authorizer_cache_ttl
        self._cache: dict[tuple[str, ...], tuple[float, _Authorization]] = {}
        self._cache_lock = threading.Lock()
        self._clock = clock
        self._on_access_log = on_access_log
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._server_lock = threading.Lock()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Serve in a background thread; returns the bound address (port 0 picks a free port)."""
        with self._server_lock:
            if self._server is not None:
                raise RuntimeError("the gateway is already serving")
            server = _Server((host, port), self)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="gatekey-gateway", daemon=True
            )
            thread.start()
            self._server, self._thread = server, thread
        bound_host, bound_port = server.server_address[:2]
        return str(bound_host), int(bound_port)

    def serve(self, host: str = "127.0.0.1", port: int = 8080) -> None:
        """Serve until `shutdown()` is called from another thread or the process is interrupted."""
        self.start(host, port)
        thread = self._thread
        try:
            # Joining in short steps keeps Ctrl-C responsive.
            while thread is not None and thread.is_alive():
                thread.join(0.5)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop accepting requests and close the listening socket; safe to call twice."""
        with self._server_lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def handle(self, request: HttpRequest, *, too_large: bool = False) -> HttpResponse:
        """One request through API Gateway; `too_large` when the body was over the limit and left unread.
        The access log callback gets the request's line once the response is sent: before this returns for
        a body held whole, when a streamed body has been sent (or abandoned), so its latency covers the whole
        transfer."""
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        received_at = datetime.now(UTC)
        match = match_route(request.method, request.raw_path, self.routes)
        authorization: AuthorizerOutput | None = None
        try:
            if too_large:
                response = _gateway_response(REQUEST_TOO_LARGE)
            elif request.method not in HTTP_METHODS and (allowed := resource_methods(request.raw_path, self.routes)):
                response = _method_not_served(request.method, allowed)
            elif match is None:
                response = _gateway_response(MISSING_ROUTE)
            else:
                routed = GatewayRequest(request, match.route, match.path_parameters, self.api, request_id, received_at)
                response, authorization = self._route(routed, match.route)
        except Exception:
            logger.exception("local gateway failed on %s %s", request.method, request.raw_path)
            response = HttpResponse(500, _ERROR_HEADERS, _INTERNAL_ERROR)
        response = replace(response, headers=(*response.headers, ("x-amzn-RequestId", request_id)))

        def log_access() -> None:
            self._log_access(
                request,
                request_id=request_id,
                received_at=received_at,
                resource_path=match.route.path if match else None,
                status=response.status,
                latency_ms=round((time.perf_counter() - started) * 1000),
                authorizer_context=authorization.context if authorization else None,
            )

        return _once_sent(response, log_access)

    def _route(self, request: GatewayRequest, route: LocalRoute) -> tuple[HttpResponse, AuthorizerOutput | None]:
        """The response, and the authorizer's output that the access log reads (also for a 403)."""
        if not route.authorized:
            return route.integration.respond(request, None), None
        refusal, authorization, usage_identifier_key = self._authorize(
            request, self._cache_ttl if route.authorizer_cached else 0
        )
        if refusal is None and route.api_key_required:
            assert self._usage_plans is not None  # checked when the gateway was made
            refusal = self._usage_plans.admit(usage_identifier_key, route.usage_plan_scope)
        if refusal is not None:
            return _gateway_response(refusal), authorization
        return route.integration.respond(request, authorization), authorization

    def _authorize(
        self, request: GatewayRequest, cache_ttl: float
    ) -> tuple[GatewayResponse | None, AuthorizerOutput | None, str | None]:
        """(None, output, usage identifier key) when the policy allows the request; else the gateway's refusal,
        with the output of an authorizer that answered (API Gateway still fills `$context.authorizer.*` for a
        403)."""
        identity = [_identity_value(source, request.http) for source in AUTHORIZER_CACHE_IDENTITY_SOURCES]
        cache_key: tuple[str, ...] | None = None
        if cache_ttl > 0:
            # With caching on, API Gateway rejects a request missing an identity source itself.
            if not all(identity):
                return UNAUTHORIZED, None, None
            cache_key = tuple(value for value in identity if value)
        authorization = self._cached(cache_key)
        latency_ms = 0
        if authorization is None:
            event = authorizer_request_event(request, ",".join(value for value in identity if value))
            started = time.perf_counter()
            try:
                returned = self._authorizer.invoke(event, self.api)
            except Exception as error:
                if str(error) == "Unauthorized":
                    return UNAUTHORIZED, None, None
                logger.exception("the authorizer failed")
                return AUTHORIZER_FAILURE, None, None
            latency_ms = round((time.perf_counter() - started) * 1000)
            try:
                authorization = _authorization(returned)
            except MalformedResponseError as error:
                logger.error("the authorizer returned a malformed response: %s", error)
                return AUTHORIZER_FAILURE, None, None
            self._remember(cache_key, authorization)
        output = AuthorizerOutput(authorization.principal_id, authorization.context, latency_ms)
        if not is_allowed(authorization.response, request.method_arn):
            return ACCESS_DENIED, output, None
        return None, output, authorization.usage_identifier_key

    def _cached(self, key: tuple[str, ...] | None) -> _Authorization | None:
        if key is None:
            return None
        with self._cache_lock:
            entry = self._cache.get(key)
            if entry is None or entry[0] <= self._clock():
                self._cache.pop(key, None)
                return None
            return entry[1]

    def _remember(self, key: tuple[str, ...] | None, authorization: _Authorization) -> None:
        if key is not None:
            with self._cache_lock:
                self._cache[key] = (self._clock() + self._cache_ttl, authorization)

    def _log_access(self, request: HttpRequest, **fields: Any) -> None:
        if self._on_access_log is None:
            return
        try:
            self._on_access_log(access_log_line(request, api=self.api, **fields))
        except Exception:
            logger.exception("the access log callback failed")


def _identity_value(source: str, request: HttpRequest) -> str | None:
    if source == _SOURCE_IP_SOURCE:
        return request.source_ip
    return request.header(source.removeprefix(_HEADER_SOURCE))


def _authorization(returned: object) -> _Authorization:
    """Check what API Gateway checks before using an authorizer's answer."""
    if not isinstance(returned, Mapping):
        raise MalformedResponseError("not an object")
    principal_id = returned.get("principalId")
    if not isinstance(principal_id, str):
        raise MalformedResponseError("principalId must be a string")
    if not isinstance(returned.get("policyDocument"), Mapping):
        raise MalformedResponseError("policyDocument must be an object")
    context = returned.get("context") or {}
    if not isinstance(context, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str | int | float | bool) for key, value in context.items()
    ):
        raise MalformedResponseError("context must map names to strings, numbers or booleans")
    usage_identifier_key = returned.get("usageIdentifierKey")
    if usage_identifier_key is not None and not isinstance(usage_identifier_key, str):
        raise MalformedResponseError("usageIdentifierKey must be a string")
    return _Authorization(principal_id, dict(context), returned, usage_identifier_key)


def _once_sent(response: HttpResponse, sent: Callable[[], None]) -> HttpResponse:
    """The response, with `sent` called when it has gone out: now for a body held whole, at its close for a
    streamed one."""
    body = response.body
    if isinstance(body, bytes):
        sent()
        return response

    def close() -> None:
        try:
            body.close()
        finally:
            sent()

    return replace(response, body=replace(body, close=close))


def _method_not_served(method: str, allowed: Sequence[str]) -> HttpResponse:
    """API Gateway (REST) serves none but the methods of ANY; locally a TRACE or CONNECT to a resource is 405 in
    Gatekey's error shape, naming the methods the resource has, as HTTP asks, rather than reaching a backend."""
    body = {"error": {"code": "method_not_allowed", "message": f"{method} is not served; use {', '.join(allowed)}"}}
    headers = (("Content-Type", "application/json"), ("Gatekey-Version", API_VERSION), ("Allow", ", ".join(allowed)))
    return HttpResponse(405, headers, json.dumps(body).encode())


def _gateway_response(response: GatewayResponse) -> HttpResponse:
    """One of the gateway responses with a fixed status and message (the local gateway answers no DEFAULT_*)."""
    assert response.status_code is not None, response.response_type
    return HttpResponse(response.status_code, tuple(response.headers.items()), response.answer())


def _proxy_response(returned: object) -> HttpResponse:
    """A Lambda proxy integration response, as API Gateway turns it into HTTP."""
    if not isinstance(returned, Mapping):
        raise MalformedResponseError("not an object")
    status = returned.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode {status!r} is not an HTTP status")
    body = returned.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResponseError("body must be a string")
    if not body:
        payload = b""
    elif returned.get("isBase64Encoded"):
        payload = base64.b64decode(body, validate=True)
    else:
        payload = body.encode()
    return HttpResponse(status, _response_headers(returned), payload)


def _response_headers(returned: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """`headers` and `multiValueHeaders` merged; for a name in both, only the multi-value list counts."""
    single = returned.get("headers") or {}
    multi = returned.get("multiValueHeaders") or {}
    if not isinstance(single, Mapping) or not isinstance(multi, Mapping):
        raise MalformedResponseError("headers and multiValueHeaders must be objects")
    in_multi = {str(name).lower() for name in multi}
    merged = [(str(name), str(value)) for name, value in single.items() if str(name).lower() not in in_multi]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponseError(f"multiValueHeaders[{name!r}] must be a list")
        merged.extend((str(name), str(value)) for value in values)
    return tuple(merged)


def _wire_text(text: str) -> str:
    """Make a header name or value safe for http.server, which writes headers as strict latin-1:
    no line breaks (no response splitting), and other text sent as its UTF-8 bytes."""
    text = text.replace("\r", " ").replace("\n", " ")
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8").decode("latin-1")
    return text


def _content_length(headers: Message) -> int:
    values = headers.get_all("Content-Length") or []
    if len(set(values)) > 1:
        raise ValueError("conflicting Content-Length headers")
    length = int(values[0]) if values else 0
    if length < 0:
        raise ValueError("negative Content-Length")
    return length


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # an idle keep-alive connection must not hold up shutdown

    def __init__(self, address: tuple[str, int], gateway: LocalGateway) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.gateway = gateway
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that disconnects mid-request is routine here, not worth a traceback on stderr.
        logger.debug("connection from %s failed", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gatekey-local-gateway"
    sys_version = ""
    timeout = 60  # closes idle keep-alive connections
    # Headers and body go out in separate writes; with Nagle's algorithm on, each response waits
    # for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def __getattr__(self, name: str) -> Any:
        # http.server hands a request to `do_<METHOD>`, and answers an HTML 501 when there is none: every method
        # comes here instead, API Gateway's to their routes, any other (TRACE, QUERY, ...) to a 405 or 404.
        if name.startswith("do_"):
            return self._serve_request
        raise AttributeError(name)

    def _serve_request(self) -> None:
        gateway = self._gateway
        target = urlsplit(self.path) if not self.path.startswith("/") else None
        if target is not None:
            raw_path, raw_query = target.path or "/", target.query
        else:
            raw_path, _, raw_query = self.path.partition("?")
        request = HttpRequest(
            method=self.command,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=tuple(self.headers.items()),
            body=b"",
            source_ip=str(self.client_address[0]),
            protocol=self.request_version,
        )
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._reply(HttpResponse(411, (), b""), close=True)
            return
        try:
            length = _content_length(self.headers)
        except ValueError:
            self._reply(HttpResponse(400, (), b""), close=True)
            return
        if length > MAX_BODY_BYTES:
            # The body stays unread, so this connection cannot carry another request.
            self._reply(gateway.handle(request, too_large=True), close=True)
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True  # the client hung up mid-body
            return
        self._reply(gateway.handle(replace(request, body=body)))

    @property
    def _gateway(self) -> LocalGateway:
        server = self.server
        assert isinstance(server, _Server)
        return server.gateway

    def _reply(self, response: HttpResponse, *, close: bool = False) -> None:
        body = response.body
        try:
            self._send_head(response, close=close)
            if isinstance(body, bytes):
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
            else:
                self._send_streamed(response.status, body)
        except (OSError, BodyInterruptedError):
            self.close_connection = True  # the client is gone, or the body broke off and cannot be completed
        finally:
            if not isinstance(body, bytes):
                body.close()

    def _send_head(self, response: HttpResponse, *, close: bool) -> None:
        """Status line and headers but the framing ones; Server and Date unless the response has its own."""
        self.log_request(response.status)
        self.send_response_only(response.status)
        names = {name.lower() for name, _ in response.headers}
        if "server" not in names:
            self.send_header("Server", self.version_string())
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            if name.lower() not in _FRAMING_HEADERS:
                self.send_header(_wire_text(name), _wire_text(value))
        if close:
            self.send_header("Connection", "close")

    def _send_streamed(self, status: int, body: StreamedBody) -> None:
        """Each chunk as it arrives: under the announced Content-Length, else in chunked transfer encoding (an
        HTTP/1.0 client, which knows no chunks, reads to the end of the connection instead)."""
        has_body = self.command != "HEAD" and status >= 200 and status not in (204, 304)
        chunked = body.length is None and has_body and self.request_version != "HTTP/1.0"
        if body.length is not None:
            self.send_header("Content-Length", str(body.length))
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif has_body:
            self.send_header("Connection", "close")
        self.end_headers()
        if not has_body:
            return
        for chunk in body.chunks:
            if chunk:  # an empty chunk would end a chunked body
                self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, an unknown method, headers too large) in JSON,
        as the gateway's other answers, instead of its HTML page."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        body = json.dumps({"message": phrase}).encode()
        self._reply(HttpResponse(code, (("Content-Type", "application/json"),), body), close=True)

    def log_message(self, format: str, *args: Any) -> None:
        if self._gateway.verbose:
            super().log_message(format, *args)
