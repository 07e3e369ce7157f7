"""Authorizer events shaped like AWS's own sample (events/aws/), and reading the authorizer's answers."""

from __future__ import annotations

from typing import Any

from tests.aws_samples import aws_sample
from tests.conftest import lambda_context


def authorizer_event(
    token: str | None, method: str = "GET", path: str = "/products", ip: str = "203.0.113.9"
) -> dict[str, Any]:
    event: dict[str, Any] = aws_sample("apiGatewayAuthorizerRequestEvent.json")
    event["methodArn"] = f"arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/{method}{path}"
    event["httpMethod"] = method
    event["path"] = event["resource"] = path
    event["headers"] = {"Authorization": f"Bearer {token}"} if token else {}
    event["requestContext"]["identity"]["sourceIp"] = ip
    return event


def invoke(authorizer: Any, event: dict[str, Any]) -> dict[str, Any] | str:
    try:
        result: dict[str, Any] = authorizer.lambda_handler(event, lambda_context("authorizer"))
    except Exception as error:
        return str(error)
    return result


def allowed_resources(result: dict[str, Any] | str) -> list[str]:
    assert isinstance(result, dict)
    return [
        resource
        for statement in result["policyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for resource in statement["Resource"]
    ]
