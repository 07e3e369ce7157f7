"""The REQUEST authorizer Lambda against moto's server, with events shaped like AWS's own samples (events/aws/)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from botocore.exceptions import ClientError

from gatekey.api import services
from gatekey.domain.authentication import Authenticator
from gatekey.domain.clock import utc_now
from gatekey.domain.hashing import PEPPERED_PREFIX, SecretVerifier
from gatekey.domain.key_lifecycle import Caller, KeyChanges, KeyLifecycle, NewKey
from gatekey.domain.permissions import Level
from gatekey.storage import aws
from gatekey.storage.sealing import KmsPepper
from tests.integration.authorizer_events import allowed_resources, authorizer_event, invoke


def test_valid_key_gets_a_policy_for_this_request_and_the_context(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    """Without caching, API Gateway applies the policy to this one request: it allows exactly its method ARN."""
    key, token = lifecycle.create(admin, NewKey(label="reader", permissions={"products": Level.READ}))
    result = invoke(authorizer, authorizer_event(token.value, path="/products/p_1"))
    assert isinstance(result, dict)
    assert allowed_resources(result) == ["arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/products/p_1"]
    assert result["context"] == {
        "keyId": key.key_id,
        "orgId": admin.org_id,
        "userId": "",
        "keyType": "main",
        "authMode": "bearer",
        "permissions": '{"products":"read"}',
        "connectionId": "",
        "contentSha256": "",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/products"), ("GET", "/orders"), ("GET", "/v1/keys"), ("GET", "/nothing"), ("OPTIONS", "/products")],
)
def test_a_route_the_permissions_do_not_grant_is_denied_with_the_key_in_the_context(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, method: str, path: str
) -> None:
    key, token = lifecycle.create(admin, NewKey(label="reader", permissions={"products": Level.READ}))
    result = invoke(authorizer, authorizer_event(token.value, method=method, path=path))
    assert isinstance(result, dict)
    assert allowed_resources(result) == []
    assert {s["Effect"] for s in result["policyDocument"]["Statement"]} == {"Deny"}
    assert (result["context"]["keyId"], result["context"]["orgId"]) == (key.key_id, admin.org_id)


def test_the_route_rules_of_the_configuration_decide(authorizer: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    """The demo store's rule: verifying a license is a POST that needs only licenses:read; {id} is one segment."""
    _, token = lifecycle.create(admin, NewKey(label="verifier", permissions={"licenses": Level.READ}))
    assert allowed_resources(invoke(authorizer, authorizer_event(token.value, "POST", "/licenses/l_1/verify")))
    assert not allowed_resources(invoke(authorizer, authorizer_event(token.value, "POST", "/licenses/l/1/verify")))
    assert not allowed_resources(invoke(authorizer, authorizer_event(token.value, "POST", "/licenses")))


def test_bad_checksum_is_refused_without_reading_storage(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, aws_calls: list[str]
) -> None:
    _, token = lifecycle.create(admin, NewKey(label="k"))
    tampered = token.value[:-1] + ("A" if token.value[-1] != "A" else "B")
    aws_calls.clear()
    assert invoke(authorizer, authorizer_event(tampered)) == "Unauthorized"
    assert aws_calls == []


def test_warm_path_is_one_storage_read(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, aws_calls: list[str]
) -> None:
    _, token = lifecycle.create(admin, NewKey(label="k", permissions={"products": Level.READ}))
    invoke(authorizer, authorizer_event(token.value))  # cold: argon2 and the first last-used note
    aws_calls.clear()
    for _ in range(3):
        allowed_resources(invoke(authorizer, authorizer_event(token.value)))
    assert aws_calls == ["dynamodb:GetItem"] * 3


@pytest.mark.parametrize("header_value", [None, "Basic abc", "Bearer", "Bearer gk_test_short"])
def test_missing_or_malformed_credentials_are_401(authorizer: Any, header_value: str | None) -> None:
    event = authorizer_event(None)
    if header_value:
        event["headers"] = {"Authorization": header_value}
    assert invoke(authorizer, event) == "Unauthorized"


def test_revocation_and_rotation_take_effect_on_the_next_request(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    key, token = lifecycle.create(admin, NewKey(label="k", permissions={"products": Level.READ}))
    allowed_resources(invoke(authorizer, authorizer_event(token.value)))
    _, rotated = lifecycle.rotate(admin, key.key_id, grace_period_seconds=0)
    assert invoke(authorizer, authorizer_event(token.value)) == "Unauthorized"
    allowed_resources(invoke(authorizer, authorizer_event(rotated.value)))
    lifecycle.revoke(admin, key.key_id)
    assert invoke(authorizer, authorizer_event(rotated.value)) == "Unauthorized"


def test_expired_key_is_401(authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, keys_repository: Any) -> None:
    key, token = lifecycle.create(admin, NewKey(label="k", expires_at=utc_now() + timedelta(hours=1)))
    allowed_resources(invoke(authorizer, authorizer_event(token.value)))
    stored = keys_repository.get(key.key_id)
    stored.expires_at = utc_now() - timedelta(seconds=1)
    keys_repository.save(stored, read_secret_version=stored.secret_version)
    assert invoke(authorizer, authorizer_event(token.value)) == "Unauthorized"


def test_ip_outside_the_allowlist_is_denied(authorizer: Any, lifecycle: KeyLifecycle, admin: Caller) -> None:
    key, token = lifecycle.create(admin, NewKey(label="k", ip_allowlist=("198.51.100.0/24",)))
    allowed_resources(invoke(authorizer, authorizer_event(token.value, ip="198.51.100.7")))
    result = invoke(authorizer, authorizer_event(token.value, ip="203.0.113.9"))
    assert isinstance(result, dict)
    assert allowed_resources(result) == []
    assert {s["Effect"] for s in result["policyDocument"]["Statement"]} == {"Deny"}
    # The denial still names key and org, so the access log attributes this 403 to the org.
    assert (result["context"]["keyId"], result["context"]["orgId"]) == (key.key_id, admin.org_id)
    lifecycle.update(admin, key.key_id, KeyChanges(ip_allowlist=()))
    allowed_resources(invoke(authorizer, authorizer_event(token.value, ip="203.0.113.9")))


def test_storage_failure_denies(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = lifecycle.create(admin, NewKey(label="k", permissions={"products": Level.READ}))
    client = aws.dynamodb_client()

    def throttled(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "GetItem"
        )

    monkeypatch.setattr(client, "get_item", throttled)
    result = invoke(authorizer, authorizer_event(token.value))
    assert isinstance(result, dict)
    assert allowed_resources(result) == []


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\t", " \t", "\x00"])
def test_bearer_with_whitespace_other_than_spaces_is_401(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, separator: str
) -> None:
    _, token = lifecycle.create(admin, NewKey(label="k", permissions={"products": Level.READ}))
    event = authorizer_event(None)
    event["headers"] = {"Authorization": f"Bearer{separator}{token.value}"}
    assert invoke(authorizer, event) == "Unauthorized"


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", "BEARER   "])
def test_bearer_scheme_in_any_case_with_one_or_more_spaces_is_accepted(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, scheme: str
) -> None:
    _, token = lifecycle.create(admin, NewKey(label="k", permissions={"products": Level.READ}))
    event = authorizer_event(None)
    event["headers"] = {"Authorization": f"{scheme}{token.value}"}
    assert allowed_resources(invoke(authorizer, event))


def test_two_authorization_headers_are_401_even_when_one_is_valid(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    _, token = lifecycle.create(admin, NewKey(label="k", permissions={"products": Level.READ}))
    event = authorizer_event(token.value)
    event["multiValueHeaders"] = {"Authorization": ["Bearer gk_test_nonsense", f"Bearer {token.value}"]}
    assert invoke(authorizer, event) == "Unauthorized"


def test_a_kms_failure_while_peppering_a_secret_denies(
    authorizer: Any, lifecycle: KeyLifecycle, admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container that cannot get the pepper cannot check a secret: it denies (never allows on an exception)."""
    _, token = lifecycle.create(admin, NewKey(label="k", permissions={"products": Level.READ}))
    deployed = authorizer.authenticator
    fresh = Authenticator(
        deployed._keys,
        SecretVerifier(services.settings().key_secret_argon2, KmsPepper()),
        services.settings().token_prefix,
        hmac_secrets=deployed._hmac_secrets,
        nonces=deployed._nonces,
        connections=deployed._connections,
    )

    def unavailable(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "KMSInternalException", "Message": "down"}}, "GenerateMac")

    monkeypatch.setattr(aws.kms_client(), "generate_mac", unavailable)
    monkeypatch.setattr(authorizer, "authenticator", fresh)
    result = invoke(authorizer, authorizer_event(token.value))
    assert isinstance(result, dict)
    assert allowed_resources(result) == []
    assert {statement["Effect"] for statement in result["policyDocument"]["Statement"]} == {"Deny"}


def test_a_stored_secret_hash_checks_no_guess_without_the_stages_pepper(
    lifecycle: KeyLifecycle, admin: Caller, keys_repository: Any
) -> None:
    _, token = lifecycle.create(admin, NewKey(label="k"))
    stored = keys_repository.get(token.key_id).secret_hash
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(stored.removeprefix(PEPPERED_PREFIX), token.secret)
