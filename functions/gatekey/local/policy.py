"""Evaluate a Lambda authorizer's IAM policy against a method ARN the way IAM does for execute-api:Invoke."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

INVOKE_ACTION = "execute-api:Invoke"


class MalformedPolicyError(ValueError):
    """The policy document is not one IAM would accept; API Gateway then denies."""


def is_allowed(authorizer_response: object, method_arn: str) -> bool:
    """True when the response's policy allows invoking `method_arn`: a matching Deny wins over any Allow,
    and nothing matching means deny. A malformed response or policy denies."""
    if not isinstance(authorizer_response, Mapping):
        return False
    try:
        statements = _statements(authorizer_response.get("policyDocument"))
    except MalformedPolicyError:
        return False
    effects = {effect for effect, actions, arns in statements if _applies(actions, arns, method_arn)}
    return effects == {"Allow"}


def wildcard_matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM's wildcards: `*` matches any run of characters (`/` included), `?` exactly one."""
    return _wildcard_regex(pattern, case_sensitive).fullmatch(value) is not None


def _applies(actions: list[str], resources: list[str], method_arn: str) -> bool:
    # IAM compares action names case-insensitively and resource ARNs case-sensitively.
    return any(wildcard_matches(action, INVOKE_ACTION, case_sensitive=False) for action in actions) and any(
        wildcard_matches(resource, method_arn) for resource in resources
    )


def _statements(document: object) -> list[tuple[str, list[str], list[str]]]:
    if not isinstance(document, Mapping):
        raise MalformedPolicyError("policyDocument must be an object")
    raw = document.get("Statement")
    statements = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(statements, list):
        raise MalformedPolicyError("Statement must be an object or a list")
    return [_statement(statement) for statement in statements]


def _statement(statement: object) -> tuple[str, list[str], list[str]]:
    if not isinstance(statement, Mapping):
        raise MalformedPolicyError("a statement must be an object")
    # Conditions, NotAction and NotResource cannot be judged here: refuse rather than guess.
    if {"Condition", "NotAction", "NotResource"} & statement.keys():
        raise MalformedPolicyError("unsupported statement element")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicyError("Effect must be Allow or Deny")
    return str(effect), _strings(statement.get("Action")), _strings(statement.get("Resource"))


def _strings(value: object) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(item, str) for item in values):
        raise MalformedPolicyError("Action and Resource must be a string or a non-empty list of strings")
    return values


@lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(body, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)
