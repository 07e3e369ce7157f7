"""The authorizer's HMAC mode against moto's DynamoDB and KMS: signatures, clock window, nonces, rotation, faults."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.domain.permissions import Level
from gatekey.domain.signing import new_nonce, sign_request
from gatekey.storage import aws
from tests.integration.authorizer_events import allowed_resources, authorizer_event, invoke


def signed_event(
    key_id: str,
    token: str,
    *,
    method: str = "GET",
    path: str = "/products",
    query: str = "",
    body: bytes = b"",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """The authorizer event API Gateway builds for a signed request: raw path, decoded query parameters."""
    event = authorizer_event(None, method=method, path=path)
    event["headers"] = sign_request(
        key_id=key_id,
        token=token,
        method=method,
        raw_path=path,
        raw_query=query,
        body=body,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        nonce=nonce,
    )
    multi: dict[str, list[str]] = {}
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        multi.setdefault(unquote(name), []).append(unquote(value))
    event["queryStringParameters"] = {name: values[-1] for name, values in multi.items()} or None
    event["multiValueQueryStringParameters"] = multi or None
    return event


def hmac_key(lifecycle: KeyLifecycle, admin: Caller, **changes: Any) -> tuple[str, str]:
    key, token = lifecycle.create(
        admin, NewKey(label="signer", auth_mode="hmac", permissions={"products": Level.WRITE}, **changes)
    )
    return key.key_id, token.value


def test_signed_request_is_allowed_with_the_body_digest_in_the_context(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    key_id, token = hmac_key(lifecycle, admin)
    event = signed_event(key_id, token, method="POST", path="/products", query="b=2&a=1", body=b'{"name":"lamp"}')
    result = invoke(authorizer, event)
    assert isinstance(result, dict)
    assert "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/POST/products" in allowed_resources(result)
    assert result["context"]["authMode"] == "hmac"
    assert result["context"]["keyId"] == key_id
    assert result["context"]["contentSha256"] == event["headers"]["X-Gatekey-Content-SHA256"]


def test_warm_signed_request_is_one_read_and_one_nonce_write_without_kms(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, aws_calls: list[str]
) -> None:
    key_id, token = hmac_key(lifecycle, admin)
    allowed_resources(invoke(authorizer, signed_event(key_id, token)))  # cold: KMS decrypt, last-used note
    aws_calls.clear()
    for _ in range(3):
        allowed_resources(invoke(authorizer, signed_event(key_id, token)))
    assert aws_calls == ["dynamodb:GetItem", "dynamodb:PutItem"] * 3


def test_a_nonce_is_accepted_once(authorizer: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    key_id, token = hmac_key(lifecycle, admin)
    event = signed_event(key_id, token, nonce=new_nonce())
    allowed_resources(invoke(authorizer, event))
    assert invoke(authorizer, event) == "Unauthorized"


def test_the_same_nonce_on_another_key_is_its_own(authorizer: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    nonce = new_nonce()
    for _ in range(2):
        key_id, token = hmac_key(lifecycle, admin)
        allowed_resources(invoke(authorizer, signed_event(key_id, token, nonce=nonce)))


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_timestamp_outside_five_minutes_is_refused_without_reading_storage(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, aws_calls: list[str], skew: int
) -> None:
    key_id, token = hmac_key(lifecycle, admin)
    aws_calls.clear()
    assert invoke(authorizer, signed_event(key_id, token, timestamp=int(time.time()) + skew)) == "Unauthorized"
    assert aws_calls == []


@pytest.mark.parametrize("skew", [-290, 290])
def test_a_timestamp_inside_five_minutes_is_accepted(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, skew: int
) -> None:
    key_id, token = hmac_key(lifecycle, admin)
    allowed_resources(invoke(authorizer, signed_event(key_id, token, timestamp=int(time.time()) + skew)))


def test_auth_mode_decides_how_a_key_may_be_presented(authorizer: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    hmac_id, hmac_token = hmac_key(lifecycle, admin)
    bearer, bearer_token = lifecycle.create(admin, NewKey(label="bearer", permissions={"products": Level.READ}))
    assert invoke(authorizer, authorizer_event(hmac_token)) == "Unauthorized"
    assert invoke(authorizer, signed_event(bearer.key_id, bearer_token.value)) == "Unauthorized"
    recoverable, recoverable_token = lifecycle.create(admin, NewKey(label="r", recoverable=True))
    assert invoke(authorizer, signed_event(recoverable.key_id, recoverable_token.value)) == "Unauthorized"
    allowed_resources(invoke(authorizer, signed_event(hmac_id, hmac_token)))
    allowed_resources(invoke(authorizer, authorizer_event(bearer_token.value)))


def test_bearer_and_hmac_credentials_together_are_refused(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    key_id, token = hmac_key(lifecycle, admin)
    _, bearer_token = lifecycle.create(admin, NewKey(label="bearer", permissions={"products": Level.READ}))
    event = signed_event(key_id, token)
    event["headers"]["Authorization"] = f"Bearer {bearer_token.value}"
    assert invoke(authorizer, event) == "Unauthorized"


@pytest.mark.parametrize(
    "malformed",
    [
        ("X-Gatekey-Key-Id", "key_short"),
        ("X-Gatekey-Timestamp", "soon"),
        ("X-Gatekey-Nonce", "too-short"),
        ("X-Gatekey-Nonce", "has spaces in it, sixteen+"),
        ("X-Gatekey-Content-SHA256", "ABC"),
        ("X-Gatekey-Signature", "v2=00"),
        ("X-Gatekey-Signature", ""),
    ],
)
def test_malformed_signing_headers_are_refused_without_reading_storage(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, aws_calls: list[str], malformed: tuple[str, str]
) -> None:
    key_id, token = hmac_key(lifecycle, admin)
    event = signed_event(key_id, token)
    header, value = malformed
    event["headers"][header] = value
    aws_calls.clear()
    assert invoke(authorizer, event) == "Unauthorized"
    assert aws_calls == []


def test_rotation_with_grace_accepts_both_tokens_and_without_grace_only_the_new_one(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    key_id, first = hmac_key(lifecycle, admin)
    allowed_resources(invoke(authorizer, signed_event(key_id, first)))
    _, second = lifecycle.rotate(admin, key_id, grace_period_seconds=3600)
    allowed_resources(invoke(authorizer, signed_event(key_id, first)))
    allowed_resources(invoke(authorizer, signed_event(key_id, second.value)))
    _, third = lifecycle.rotate(admin, key_id, grace_period_seconds=0)
    assert invoke(authorizer, signed_event(key_id, first)) == "Unauthorized"
    assert invoke(authorizer, signed_event(key_id, second.value)) == "Unauthorized"
    allowed_resources(invoke(authorizer, signed_event(key_id, third.value)))


def test_revocation_bites_on_the_next_signed_request(authorizer: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    key_id, token = hmac_key(lifecycle, admin)
    allowed_resources(invoke(authorizer, signed_event(key_id, token)))
    lifecycle.revoke(admin, key_id)
    assert invoke(authorizer, signed_event(key_id, token)) == "Unauthorized"


def test_ip_allowlist_applies_to_signed_requests(authorizer: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    key_id, token = hmac_key(lifecycle, admin, ip_allowlist=("198.51.100.0/24",))
    result = invoke(authorizer, signed_event(key_id, token))  # from 203.0.113.9
    assert isinstance(result, dict)
    assert allowed_resources(result) == []


FAULTS = {
    "kms decrypt": (aws.kms_client, "decrypt"),
    "nonce write": (aws.dynamodb_client, "put_item"),
}


@pytest.mark.parametrize("faulty", FAULTS, ids=list(FAULTS))
def test_a_failure_on_the_signed_path_denies(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, monkeypatch: pytest.MonkeyPatch, faulty: str
) -> None:
    key_id, token = hmac_key(lifecycle, admin)
    client_of, operation = FAULTS[faulty]

    def failing(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalFailure", "Message": "down"}}, operation)

    monkeypatch.setattr(client_of(), operation, failing)
    result = invoke(authorizer, signed_event(key_id, token))
    assert isinstance(result, dict)
    assert allowed_resources(result) == []
