"""An authorizer's policy is judged as IAM judges it: matching Deny wins, then Allow, else deny."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerResponse

from gatekey.local.policy import is_allowed, wildcard_matches

BASE = "arn:aws:execute-api:us-east-1:123456789012:api123/local"
GET_KEY = f"{BASE}/GET/v1/keys/key_1"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"principalId": "key_1", "policyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}


def _statement(effect: str, *resources: str, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Action": action, "Effect": effect, "Resource": list(resources)}


def test_a_matching_allow_allows() -> None:
    assert is_allowed(_policy(_statement("Allow", GET_KEY)), GET_KEY)


def test_a_matching_deny_wins_over_an_allow() -> None:
    policy = _policy(_statement("Allow", f"{BASE}/*"), _statement("Deny", f"{BASE}/GET/v1/keys/*"))

    assert not is_allowed(policy, GET_KEY)
    assert is_allowed(policy, f"{BASE}/GET/v1/users")


def test_star_matches_across_path_segments() -> None:
    assert is_allowed(_policy(_statement("Allow", f"{BASE}/GET/v1/*")), GET_KEY)
    assert is_allowed(_policy(_statement("Allow", f"{BASE}/*/v1/keys/*")), f"{BASE}/DELETE/v1/keys/key_1/x")


def test_question_mark_matches_exactly_one_character() -> None:
    policy = _policy(_statement("Allow", f"{BASE}/GET/v1/keys/key_?"))

    assert is_allowed(policy, GET_KEY)
    assert not is_allowed(policy, f"{BASE}/GET/v1/keys/key_12")


def test_nothing_matching_denies() -> None:
    assert not is_allowed(_policy(_statement("Allow", f"{BASE}/POST/v1/keys")), GET_KEY)
    assert not is_allowed(_policy(), GET_KEY)


def test_resource_matching_is_case_sensitive_and_action_matching_is_not() -> None:
    assert not is_allowed(_policy(_statement("Allow", f"{BASE}/GET/V1/KEYS/*")), GET_KEY)
    assert is_allowed(_policy(_statement("Allow", GET_KEY, action="Execute-API:invoke")), GET_KEY)


def test_action_and_resource_may_be_strings_or_lists() -> None:
    statement = {"Action": ["s3:GetObject", "execute-api:*"], "Effect": "Allow", "Resource": GET_KEY}

    assert is_allowed(_policy(statement), GET_KEY)
    assert not is_allowed(_policy(_statement("Allow", GET_KEY, action="s3:*")), GET_KEY)


def test_a_single_statement_object_is_accepted() -> None:
    policy = {"principalId": "p", "policyDocument": {"Version": "2012-10-17", "Statement": _statement("Allow", "*")}}

    assert is_allowed(policy, GET_KEY)


@pytest.mark.parametrize(
    "response",
    [
        None,
        "Allow",
        {"principalId": "p"},
        {"principalId": "p", "policyDocument": {"Statement": "Allow"}},
        _policy(_statement("allow", "*")),
        _policy({"Effect": "Allow", "Resource": "*"}),
        _policy(_statement("Allow")),
        _policy(_statement("Allow", "*"), {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [3]}),
        _policy({**_statement("Allow", "*"), "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}),
        _policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}),
    ],
)
def test_a_malformed_response_denies(response: Any) -> None:
    assert not is_allowed(response, GET_KEY)


def test_a_powertools_route_policy_allows_only_its_routes() -> None:
    response = APIGatewayAuthorizerResponse("key_1", "us-east-1", "123456789012", "api123", "local")
    response.allow_route("GET", "/v1/keys/*")
    response.deny_route("GET", "/v1/keys/key_secret")
    policy = response.asdict()

    assert is_allowed(policy, GET_KEY)
    assert not is_allowed(policy, f"{BASE}/GET/v1/keys/key_secret")
    assert not is_allowed(policy, f"{BASE}/POST/v1/keys/key_1")
    assert not is_allowed(policy, f"{BASE}/GET/v1/users")


def test_wildcards_treat_regex_characters_literally() -> None:
    assert wildcard_matches("a.b(c)+*", "a.b(c)+/x/y")
    assert not wildcard_matches("a.b", "axb")
