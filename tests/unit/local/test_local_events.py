"""The local gateway's events have the shapes API Gateway sends, and Powertools reads the right values."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerRequestEvent
from aws_lambda_powertools.utilities.parser.models import ApiGatewayAuthorizerRequest, APIGatewayProxyEventModel

from gatekey.api_gateway import ROUTES
from gatekey.local.events import (
    ApiStage,
    AuthorizerOutput,
    GatewayRequest,
    HttpRequest,
    access_log_line,
    authorizer_request_event,
    method_arn,
    proxy_event,
)
from tests.aws_samples import aws_sample


def _sample(name: str) -> dict[str, Any]:
    return aws_sample(name)


RECEIVED_AT = datetime(2026, 3, 4, 19, 15, 17, 135000, tzinfo=UTC)
API = ApiStage(stage="dev", api_id="abcdef123", account_id="123456789012", region="eu-west-1")
MANAGEMENT_ROUTE = next(route for route in ROUTES if route.path == "/v1/{proxy+}")
HEALTH_ROUTE = next(route for route in ROUTES if route.path == "/health")
AUTHORIZED = AuthorizerOutput(
    principal_id="key_abc",
    context={"keyId": "key_abc", "orgId": "org_1", "permissions": '{"keys": "write"}', "admin": True, "n": 2},
    latency_ms=17,
)


def _request(
    *, raw_query: str = "limit=5&tag=a&tag=b%2Fc&plus=a+b", body: bytes = b'{"label": "ci"}', route: Any = None
) -> GatewayRequest:
    http = HttpRequest(
        method="POST",
        raw_path="/v1/keys/key_abc/caf%C3%A9",
        raw_query=raw_query,
        headers=(
            ("Host", "api.example.com:8443"),
            ("authorization", "Bearer gk_test_x"),
            ("X-Tag", "one"),
            ("x-tag", "two"),
            ("User-Agent", "pytest/1"),
            ("Content-Type", "application/json"),
        ),
        body=body,
        source_ip="203.0.113.9",
    )
    route = route or MANAGEMENT_ROUTE
    params = {"proxy": "keys/key_abc/café"} if route is MANAGEMENT_ROUTE else None
    return GatewayRequest(http, route, params, API, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", RECEIVED_AT)


# Objects whose keys are the request's own data (header names, parameters), not part of the shape.
DATA_MAPS = {
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
}


def _assert_same_shape(built: Any, sample: Any, where: str = "event") -> None:
    """Same keys at every level; where both values are set, the same JSON type."""
    if where.rsplit(".", 1)[-1] in DATA_MAPS:
        assert built is None or isinstance(built, dict), where
        value_type = list if where.endswith(("multiValueHeaders", "multiValueQueryStringParameters")) else str
        assert all(isinstance(value, value_type) for value in (built or {}).values()), where
    elif isinstance(sample, dict) and isinstance(built, dict):
        assert built.keys() == sample.keys(), where
        for key in sample:
            _assert_same_shape(built[key], sample[key], f"{where}.{key}")
    elif built is not None and sample is not None:
        assert type(built) is type(sample), where


def test_authorizer_event_has_the_shape_of_the_aws_sample() -> None:
    sample = _sample("apiGatewayAuthorizerRequestEvent.json")
    event = authorizer_request_event(_request(), "Bearer gk_test_x,203.0.113.9")

    # The one addition to the documented sample: HMAC needs every value of a repeated parameter.
    assert event.pop("multiValueQueryStringParameters") == {"limit": ["5"], "tag": ["a", "b/c"], "plus": ["a+b"]}
    _assert_same_shape(event, sample)
    ApiGatewayAuthorizerRequest.model_validate(authorizer_request_event(_request(), "x"))


def test_proxy_event_has_the_shape_of_the_aws_sample() -> None:
    sample = _sample("apiGatewayProxyEvent.json")
    event = proxy_event(_request(), AUTHORIZED)

    sample["requestContext"]["authorizer"] = None  # the sample's is a Cognito one; ours is compared below
    event_authorizer = event["requestContext"].pop("authorizer")
    event["requestContext"]["authorizer"] = None
    _assert_same_shape(event, sample)
    assert set(event_authorizer) == {"keyId", "orgId", "permissions", "admin", "n", "principalId", "integrationLatency"}
    APIGatewayProxyEventModel.model_validate(proxy_event(_request(), AUTHORIZED))


def test_powertools_reads_the_authorizer_event() -> None:
    event = APIGatewayAuthorizerRequestEvent(authorizer_request_event(_request(), "Bearer gk_test_x,203.0.113.9"))

    assert event.get_type == "REQUEST"
    assert event.method_arn == "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/dev/POST/v1/keys/key_abc/caf%C3%A9"
    assert (event.parsed_arn.stage, event.parsed_arn.http_method) == ("dev", "POST")
    assert event.parsed_arn.resource == "v1/keys/key_abc/caf%C3%A9"
    assert event.resource == "/v1/{proxy+}"
    assert event.path == "/v1/keys/key_abc/caf%C3%A9"
    assert event.headers["Authorization"] == "Bearer gk_test_x"
    assert event.headers.get("x-tag") == "two"
    assert event.query_string_parameters == {"limit": "5", "tag": "b/c", "plus": "a+b"}
    assert event.path_parameters == {"proxy": "keys/key_abc/café"}
    assert event.identity_source == "Bearer gk_test_x,203.0.113.9"
    assert event.request_context.identity.source_ip == "203.0.113.9"
    assert event.request_context.stage == "dev"
    assert event.request_context.path == "/dev/v1/keys/key_abc/caf%C3%A9"
    assert "body" not in event


def test_powertools_reads_the_proxy_event() -> None:
    event = APIGatewayProxyEvent(proxy_event(_request(), AUTHORIZED))

    assert (event.http_method, event.resource, event.path) == ("POST", "/v1/{proxy+}", "/v1/keys/key_abc/caf%C3%A9")
    assert event.headers["x-tag"] == "two"
    assert event.multi_value_headers["X-Tag"] == ["one", "two"]
    assert event.query_string_parameters["tag"] == "b/c"
    assert event.multi_value_query_string_parameters["tag"] == ["a", "b/c"]
    assert event.path_parameters == {"proxy": "keys/key_abc/café"}
    assert event.json_body == {"label": "ci"}
    assert event.is_base64_encoded is False
    context = event.request_context
    assert context.authorizer.principal_id == "key_abc"
    assert context.authorizer.integration_latency == 17
    assert context.authorizer.get("keyId") == "key_abc"
    # API Gateway hands context booleans and numbers on as strings.
    assert (context.authorizer.get("admin"), context.authorizer.get("n")) == ("true", "2")
    assert context.identity.source_ip == "203.0.113.9"
    assert context.identity.user_agent == "pytest/1"
    assert context.request_time_epoch == 1772651717135
    assert context.request_time == "04/Mar/2026:19:15:17 +0000"
    assert (context.stage, context.resource_path, context.path) == (
        "dev",
        "/v1/{proxy+}",
        "/dev/v1/keys/key_abc/caf%C3%A9",
    )
    assert context.domain_name == "api.example.com"


def test_proxy_event_without_query_path_parameters_body_or_authorizer_has_nulls() -> None:
    event = proxy_event(_request(raw_query="", body=b"", route=HEALTH_ROUTE), None)

    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] is None
    assert event["requestContext"]["authorizer"] is None
    assert APIGatewayProxyEvent(event).request_context.authorizer.get("keyId") is None


def test_authorizer_event_without_query_has_empty_objects() -> None:
    event = authorizer_request_event(_request(raw_query="", route=HEALTH_ROUTE), "")

    assert event["queryStringParameters"] == {}
    assert event["pathParameters"] == {}


def test_body_that_is_not_utf8_is_base64_encoded() -> None:
    raw = b"\xff\xfe\x00binary"
    event = APIGatewayProxyEvent(proxy_event(_request(body=raw), None))

    assert event.is_base64_encoded is True
    assert base64.b64decode(event["body"]) == raw


def test_method_arn_of_the_root_path_ends_with_the_method() -> None:
    assert method_arn(API, "get", "/") == "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/dev/GET/"


def test_access_log_line_takes_key_and_org_from_the_authorizer_context() -> None:
    request = _request()
    line = access_log_line(
        request.http,
        api=API,
        request_id="req-1",
        received_at=RECEIVED_AT,
        resource_path="/v1/{proxy+}",
        status=201,
        latency_ms=12,
        authorizer_context=AUTHORIZED.context,
    )

    assert json.loads(line) == {
        "requestId": "req-1",
        "requestTimeEpoch": "1772651717135",
        "httpMethod": "POST",
        "path": f"/{API.stage}/v1/keys/key_abc/caf%C3%A9",
        "resourcePath": "/v1/{proxy+}",
        "stage": API.stage,
        "status": "201",
        "responseLatency": "12",
        "ip": "203.0.113.9",
        "userAgent": "pytest/1",
        "keyId": "key_abc",
        "orgId": "org_1",
    }


def test_access_log_line_writes_a_dash_for_what_is_unknown() -> None:
    http = HttpRequest("GET", "/nowhere", "", (), b"", "127.0.0.1")
    line = access_log_line(
        http,
        api=API,
        request_id="req-2",
        received_at=RECEIVED_AT,
        resource_path=None,
        status=404,
        latency_ms=0,
        authorizer_context=None,
    )

    record = json.loads(line)
    assert (record["resourcePath"], record["userAgent"], record["keyId"], record["orgId"]) == ("-", "-", "-", "-")
