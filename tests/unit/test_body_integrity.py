"""The helper every backend behind Gatekey uses to check a signed request's body against its signed digest."""

from __future__ import annotations

import base64
from typing import Any

from gatekey.body_integrity import body_matches_signature
from gatekey.domain.signing import content_sha256


def proxy_event(body: str | None, digest: str | None, *, base64_encoded: bool = False) -> dict[str, Any]:
    authorizer = {"keyId": "key_x", "orgId": "org_x"} | ({"contentSha256": digest} if digest is not None else {})
    return {"body": body, "isBase64Encoded": base64_encoded, "requestContext": {"authorizer": authorizer}}


def test_bearer_requests_carry_no_digest_and_pass() -> None:
    assert body_matches_signature(proxy_event('{"a":1}', None))
    assert body_matches_signature({"body": "x", "requestContext": {"authorizer": None}})


def test_the_signed_body_passes_and_any_other_fails() -> None:
    signed = content_sha256(b'{"name":"lamp"}')
    assert body_matches_signature(proxy_event('{"name":"lamp"}', signed))
    assert not body_matches_signature(proxy_event('{"name":"lamP"}', signed))
    assert not body_matches_signature(proxy_event(None, signed))


def test_an_empty_body_matches_the_digest_of_nothing() -> None:
    assert body_matches_signature(proxy_event(None, content_sha256(b"")))
    assert not body_matches_signature(proxy_event("x", content_sha256(b"")))


def test_binary_bodies_are_checked_as_the_bytes_sent() -> None:
    raw = bytes(range(256))
    encoded = base64.b64encode(raw).decode()
    assert body_matches_signature(proxy_event(encoded, content_sha256(raw), base64_encoded=True))
    assert not body_matches_signature(proxy_event(encoded, content_sha256(encoded.encode()), base64_encoded=True))
    assert not body_matches_signature(proxy_event("not base64!", content_sha256(raw), base64_encoded=True))
