"""The local gateway, over a real socket, behaves like API Gateway in front of Lambda functions."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatekey.access_log import ACCESS_LOG_FORMAT
from gatekey.api_gateway import GATEKEY_ROUTES, ROUTES, STORE_DEMO_ROUTE
from gatekey.local.gateway import LocalGateway, lambda_routes, match_route

CONTEXT = {"keyId": "key_1", "orgId": "org_1", "permissions": '{"keys": "read"}'}


class Recorder:
    """Test Lambda functions: an authorizer steered by the Authorization header, and echoing backends."""

    def __init__(self) -> None:
        self.authorizer_calls: list[dict[str, Any]] = []
        self.backend_events: list[dict[str, Any]] = []
        self.contexts: list[LambdaContext] = []

    def authorizer(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.authorizer_calls.append(event)
        request = APIGatewayAuthorizerRequestEvent(event)
        token = request.headers.get("Authorization", "")
        if token == "Bearer crash":
            raise RuntimeError("storage is down")
        if token == "Bearer malformed":
            return {"principalId": "key_1", "policyDocument": {"Statement": []}, "context": {"nested": {"a": 1}}}
        if token not in ("Bearer allow", "Bearer deny", "Bearer keys-only"):
            raise Exception("Unauthorized")
        arn = request.parsed_arn
        policy = APIGatewayAuthorizerResponse(
            "key_1", arn.region, arn.aws_account_id, arn.api_id, arn.stage, context=dict(CONTEXT)
        )
        if token == "Bearer allow":
            policy.allow_all_routes()
        elif token == "Bearer deny":
            policy.deny_all_routes()
        else:
            policy.allow_route("GET", "/v1/keys")
        return policy.asdict()

    def backend(self, name: str) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
        def echo(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            self.backend_events.append(event)
            self.contexts.append(context)
            if event["path"] == "/v1/crash":
                raise RuntimeError("bug")
            if event["path"] == "/v1/malformed":
                return {"body": "no status code"}
            if event["path"] == "/v1/binary":
                return {"statusCode": 200, "body": event["body"], "isBase64Encoded": event["isBase64Encoded"]}
            if event["path"] == "/v1/headers":
                return {
                    "statusCode": 200,
                    "headers": {"X-Single": "1", "X-Both": "single", "X-Euro": "5 €"},
                    "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Both": ["multi"]},
                    "body": "",
                }
            return {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"function": name, "event": event}),
            }

        return echo


def _functions(recorder: Recorder) -> dict[str, Any]:
    return {"authorizer": recorder.authorizer, "api": recorder.backend("api"), "store_demo": recorder.backend("store")}


def _gateway(functions: dict[str, Any], **options: Any) -> LocalGateway:
    """The gateway `gatekey serve` runs with the demo store: ROUTES, each to its Lambda function."""
    return LocalGateway(lambda_routes(ROUTES, functions), functions["authorizer"], **options)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def access_log() -> list[str]:
    return []


def _serve(gateway: LocalGateway) -> Iterator[httpx.Client]:
    host, port = gateway.start()
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as client:
        yield client
    gateway.shutdown()


@pytest.fixture
def client(recorder: Recorder, access_log: list[str]) -> Iterator[httpx.Client]:
    yield from _serve(_gateway(_functions(recorder), on_access_log=access_log.append))


@pytest.fixture
def cached_client(recorder: Recorder) -> Iterator[httpx.Client]:
    yield from _serve(_gateway(_functions(recorder), authorizer_cache_ttl=300))


ALLOW = {"Authorization": "Bearer allow"}


def test_literal_resources_win_over_greedy_ones() -> None:
    for literal in ("/health", "/v1/openapi.json"):
        match = match_route("GET", literal, ROUTES)
        assert match is not None
        assert (match.route.path, match.path_parameters) == (literal, None)
    v1 = match_route("DELETE", "/v1/keys/key_1", ROUTES)
    assert v1 is not None
    assert (v1.route.path, v1.path_parameters) == ("/v1/{proxy+}", {"proxy": "keys/key_1"})
    store = match_route("GET", "/v1", ROUTES)
    assert store is not None
    assert (store.route.path, store.path_parameters) == ("/{proxy+}", {"proxy": "v1"})


def test_a_method_the_resource_lacks_is_a_missing_route(client: httpx.Client) -> None:
    assert match_route("POST", "/health", ROUTES) is None
    response = client.post("/health")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}
    assert client.get("/").status_code == 404


def test_public_routes_skip_the_authorizer(client: httpx.Client, recorder: Recorder) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["function"] == "api"
    assert recorder.authorizer_calls == []
    assert response.json()["event"]["requestContext"]["authorizer"] is None


def test_routes_reach_their_functions(client: httpx.Client) -> None:
    assert client.get("/v1/keys", headers=ALLOW).json()["function"] == "api"
    assert client.get("/products/p1", headers=ALLOW).json()["function"] == "store"


def test_proxy_event_reaches_the_backend_with_the_authorizer_context(client: httpx.Client, recorder: Recorder) -> None:
    response = client.post(
        "/v1/keys/key_1/rotate?dry=1&tag=a&tag=b",
        headers=[("Authorization", "Bearer allow"), ("X-Multi", "1"), ("X-Multi", "2")],
        content=b'{"grace_period_seconds": 0}',
    )

    event = response.json()["event"]
    assert event["resource"] == "/v1/{proxy+}"
    assert event["path"] == "/v1/keys/key_1/rotate"
    assert event["pathParameters"] == {"proxy": "keys/key_1/rotate"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["body"] == '{"grace_period_seconds": 0}'
    authorizer = event["requestContext"]["authorizer"]
    assert {key: authorizer[key] for key in CONTEXT} == CONTEXT
    assert authorizer["principalId"] == "key_1"
    assert isinstance(authorizer["integrationLatency"], int)
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    authorizer_event = recorder.authorizer_calls[0]
    assert authorizer_event["methodArn"].endswith("/local/POST/v1/keys/key_1/rotate")
    assert response.headers["x-amzn-RequestId"] == event["requestContext"]["requestId"]


def test_a_powertools_rest_resolver_routes_the_proxy_event(recorder: Recorder) -> None:
    app = APIGatewayRestResolver()

    @app.get("/v1/keys/<key_id>")
    def get_key(key_id: str) -> dict[str, Any]:
        return {"key_id": key_id, "org": app.current_event.request_context.authorizer.get("orgId")}

    def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    gateway = _gateway({**_functions(recorder), "api": api})
    for client in _serve(gateway):
        response = client.get("/v1/keys/key_9", headers=ALLOW)
        assert (response.status_code, response.json()) == (200, {"key_id": "key_9", "org": "org_1"})
        assert client.get("/v1/nothing", headers=ALLOW).status_code == 404


def test_an_unauthorized_exception_is_401(client: httpx.Client, recorder: Recorder) -> None:
    response = client.get("/v1/keys", headers={"Authorization": "Bearer wrong"})

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert recorder.backend_events == []


def test_a_deny_policy_is_403(client: httpx.Client, recorder: Recorder) -> None:
    response = client.get("/v1/keys", headers={"Authorization": "Bearer deny"})

    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert recorder.backend_events == []


def test_an_authorizer_crash_or_malformed_answer_is_503(client: httpx.Client, recorder: Recorder) -> None:
    assert client.get("/v1/keys", headers={"Authorization": "Bearer crash"}).status_code == 503
    assert client.get("/v1/keys", headers={"Authorization": "Bearer malformed"}).status_code == 503
    assert recorder.backend_events == []


def test_a_failing_function_is_502_and_the_server_keeps_serving(client: httpx.Client) -> None:
    for path in ("/v1/crash", "/v1/malformed"):
        response = client.get(path, headers=ALLOW)
        assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})
    assert client.get("/health").status_code == 200


def test_response_headers_are_merged_as_api_gateway_does(client: httpx.Client) -> None:
    response = client.get("/v1/headers", headers=ALLOW)

    assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers.get_list("X-Both") == ["multi"]
    assert response.headers["X-Single"] == "1"
    assert response.headers.raw  # a value outside latin-1 goes out as its UTF-8 bytes
    assert (b"X-Euro", "5 €".encode()) in response.headers.raw


def test_a_body_that_is_not_utf8_round_trips_as_base64(client: httpx.Client, recorder: Recorder) -> None:
    raw = bytes(range(256))
    response = client.post("/v1/binary", headers=ALLOW, content=raw)

    assert response.content == raw
    event = recorder.backend_events[-1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_a_header_that_is_not_ascii_is_passed_on_as_received(client: httpx.Client, recorder: Recorder) -> None:
    response = client.get("/health", headers={b"X-Name": "café ☕".encode()})

    assert response.status_code == 200
    # http.server reads header bytes as latin-1; API Gateway's event carries them through.
    assert recorder.backend_events[-1]["headers"]["X-Name"] == "café ☕".encode().decode("latin-1")


def test_head_responses_have_no_body(client: httpx.Client) -> None:
    response = client.head("/v1/keys", headers=ALLOW)

    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) > 0
    assert client.get("/health").status_code == 200  # the connection is still in step
    assert client.head("/health").status_code == 200  # HEAD is a method of its own on /health (DESIGN §7)
    assert client.request("PUT", "/health").status_code == 404  # a method /health does not have: no route


def test_lambda_context_is_passed(client: httpx.Client, recorder: Recorder) -> None:
    client.get("/health")

    context = recorder.contexts[-1]
    assert context.function_name == "api"
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:api"
    assert context.memory_limit_in_mb > 0
    assert context.aws_request_id
    assert context.log_group_name == "/aws/lambda/api"
    assert 0 < context.get_remaining_time_in_millis() <= 29_000


def test_cached_policy_is_reused_and_judged_per_route(cached_client: httpx.Client, recorder: Recorder) -> None:
    keys_only = {"Authorization": "Bearer keys-only"}

    assert cached_client.get("/v1/keys", headers=keys_only).status_code == 200
    assert cached_client.get("/v1/users", headers=keys_only).status_code == 403
    assert cached_client.get("/v1/keys", headers=keys_only).status_code == 200

    assert len(recorder.authorizer_calls) == 1
    assert recorder.backend_events[-1]["requestContext"]["authorizer"]["integrationLatency"] == 0


def test_cache_needs_the_identity_source(cached_client: httpx.Client, recorder: Recorder) -> None:
    assert cached_client.get("/v1/keys").status_code == 401
    assert recorder.authorizer_calls == []


def test_cache_entries_expire_after_the_ttl(recorder: Recorder) -> None:
    now = [1000.0]
    gateway = _gateway(_functions(recorder), authorizer_cache_ttl=60, clock=lambda: now[0])
    for client in _serve(gateway):
        client.get("/v1/keys", headers=ALLOW)
        now[0] += 59
        client.get("/v1/keys", headers=ALLOW)
        now[0] += 2
        client.get("/v1/keys", headers=ALLOW)
    assert len(recorder.authorizer_calls) == 2


def test_without_cache_the_authorizer_runs_every_time(client: httpx.Client, recorder: Recorder) -> None:
    client.get("/v1/keys", headers=ALLOW)
    client.get("/v1/keys", headers=ALLOW)

    assert len(recorder.authorizer_calls) == 2


def test_access_log_line_for_each_request(client: httpx.Client, access_log: list[str]) -> None:
    client.get("/v1/keys", headers={**ALLOW, "User-Agent": "gatekey-test"})
    client.get("/nowhere/", headers={"Authorization": "Bearer wrong"})

    first, second = (json.loads(line) for line in access_log)
    assert set(first) == set(ACCESS_LOG_FORMAT)
    assert first["httpMethod"] == "GET"
    assert first["path"] == "/local/v1/keys"
    assert first["stage"] == "local"
    assert first["resourcePath"] == "/v1/{proxy+}"
    assert first["status"] == "200"
    assert first["userAgent"] == "gatekey-test"
    assert (first["keyId"], first["orgId"]) == ("key_1", "org_1")
    assert int(first["responseLatency"]) >= 0
    assert (second["status"], second["keyId"], second["orgId"]) == ("401", "-", "-")


def test_a_failing_access_log_callback_does_not_break_the_request(recorder: Recorder) -> None:
    def broken(line: str) -> None:
        raise RuntimeError("log sink down")

    for client in _serve(_gateway(_functions(recorder), on_access_log=broken)):
        assert client.get("/health").status_code == 200


def test_bodies_over_10_mib_are_413(client: httpx.Client) -> None:
    host, port = client.base_url.host, client.base_url.port
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(b"POST /v1/keys HTTP/1.1\r\nHost: x\r\nContent-Length: 10485761\r\n\r\n")
        assert raw.recv(1024).startswith(b"HTTP/1.1 413")


def test_garbage_on_the_socket_does_not_stop_the_server(client: httpx.Client) -> None:
    host, port = client.base_url.host, client.base_url.port
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(b"\x00\xffnot http\r\n\r\n")
        raw.recv(1024)
    assert client.get("/health").status_code == 200


def test_each_function_handles_one_event_at_a_time(recorder: Recorder) -> None:
    running = 0
    overlapped = False
    guard = threading.Lock()

    def slow(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal running, overlapped
        with guard:
            running += 1
            overlapped = overlapped or running > 1
        time.sleep(0.02)
        with guard:
            running -= 1
        return {"statusCode": 200, "body": "ok"}

    gateway = _gateway({**_functions(recorder), "api": slow})
    host, port = gateway.start()
    try:
        threads = [threading.Thread(target=httpx.get, args=(f"http://{host}:{port}/health",)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gateway.shutdown()
    assert not overlapped


def test_shutdown_is_prompt_and_frees_the_port(recorder: Recorder) -> None:
    gateway = _gateway(_functions(recorder))
    host, port = gateway.start()
    idle = httpx.Client(base_url=f"http://{host}:{port}")
    assert idle.get("/health").status_code == 200  # leaves a keep-alive connection open

    started = time.monotonic()
    gateway.shutdown()
    gateway.shutdown()
    assert time.monotonic() - started < 2
    idle.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{host}:{port}/health")


def test_requests_are_not_logged_to_stderr(client: httpx.Client, capfd: pytest.CaptureFixture[str]) -> None:
    client.get("/health")
    client.get("/v1/crash", headers=ALLOW)

    assert "GET /health" not in capfd.readouterr().err


def test_every_function_needs_a_handler(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="store_demo"):
        lambda_routes(ROUTES, {"authorizer": recorder.authorizer, "api": recorder.backend("api")})


def test_a_method_api_gateway_does_not_serve_is_405_naming_the_resources_methods(
    client: httpx.Client, recorder: Recorder
) -> None:
    proxied = client.request("TRACE", "/v1/keys", headers=ALLOW)
    literal = client.request("QUERY", "/health")
    invented = client.request("BREW", "/products")

    assert proxied.status_code == literal.status_code == invented.status_code == 405
    assert proxied.json()["error"]["code"] == "method_not_allowed"
    assert proxied.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    assert literal.headers["Allow"] == "GET, HEAD"
    assert proxied.headers["Gatekey-Version"] == "2026-11-01"
    assert recorder.authorizer_calls == recorder.backend_events == []
    assert client.request("TRACE", "/").status_code == 404  # no resource there at all


def test_what_http_server_refuses_itself_is_json_too(client: httpx.Client) -> None:
    host, port = client.base_url.host, client.base_url.port
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(101)) + b"\r\n")
        answer = b""
        while part := raw.recv(4096):
            answer += part
    assert answer.startswith(b"HTTP/1.1 431")
    assert answer.endswith(b'{"message": "Request Header Fields Too Large"}')


def test_a_final_slash_matches_the_resource_without_it_and_reaches_the_function_as_sent() -> None:
    """A REST API serves `/dashboard/` from its `/dashboard` resource (the console's entry)."""
    match = match_route("GET", "/dashboard/", ROUTES)
    assert match is not None and match.route.path == "/dashboard"
    deeper = match_route("GET", "/dashboard/keys.html", ROUTES)
    assert deeper is not None and deeper.route.path == "/dashboard/{proxy+}"


def test_routes_outside_the_cache_call_the_authorizer_every_time_and_need_no_authorization_header(
    recorder: Recorder,
) -> None:
    """Gatekey's own API in `gatekey serve`: its authorizer never caches, whatever the provider API's TTL."""
    functions = _functions(recorder)
    routes = (
        *lambda_routes(GATEKEY_ROUTES, functions, authorizer_cached=False),
        *lambda_routes((STORE_DEMO_ROUTE,), functions),
    )
    for client in _serve(LocalGateway(routes, functions["authorizer"], authorizer_cache_ttl=300)):
        keys_only = {"Authorization": "Bearer keys-only"}
        assert client.get("/v1/keys", headers=keys_only).status_code == 200
        assert client.get("/v1/keys", headers=keys_only).status_code == 200
        assert len(recorder.authorizer_calls) == 2
        assert client.get("/v1/keys").status_code == 401  # the authorizer itself refused: no header needed to ask it
        assert len(recorder.authorizer_calls) == 3
        assert client.get("/products", headers=ALLOW).status_code == 200
        assert client.get("/products", headers=ALLOW).status_code == 200
        assert len(recorder.authorizer_calls) == 4  # the protected API's answer was cached
        assert client.get("/products").status_code == 401
        assert len(recorder.authorizer_calls) == 4  # refused by the gateway: no identity source
