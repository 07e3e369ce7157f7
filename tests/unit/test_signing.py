"""The HMAC string to sign (DESIGN §4): the test vector, canonical path and query, header shapes."""

from __future__ import annotations

import pytest

from gatekey.domain.signing import (
    MalformedSignatureError,
    canonical_path,
    canonical_query,
    canonical_query_from_raw,
    content_sha256,
    new_nonce,
    parse_signed_headers,
    sign_request,
    signature,
    string_to_sign,
)

VECTOR_TOKEN = "gk_test_7QqK3mZ1xR8vT2wY5nB0cDLh4Jf6Gs9Pk2Ve8Nt1Ua3Rc5Xy7Wb0Zq3wsiVa"
VECTOR_KEY_ID = "key_7QqK3mZ1xR8vT2wY5nB0cD"
VECTOR_SIGNATURE = "v1=55cfb0f25e1167123dfc924523c70144ab817402d500dc3e9e32515592f32e20"
VECTOR_SHA256 = "c9911142467923550b9b264f31d22f7820e4c4d41f885b01e256693f732d0696"


def test_design_test_vector_is_reproduced_part_by_part() -> None:
    assert canonical_path("/products/caf%C3%A9%20x") == "/products/caf%C3%A9%20x"
    assert canonical_query_from_raw("size=XL&color=red&color=blue&q=a%2Fb") == "color=blue&color=red&q=a%2Fb&size=XL"
    assert content_sha256(b'{"name":"lamp"}') == VECTOR_SHA256
    text = string_to_sign(
        timestamp="1767225600",
        nonce="n0nce-0123456789ab",
        method="post",
        path="/products/caf%C3%A9%20x",
        query="color=blue&color=red&q=a%2Fb&size=XL",
        body_sha256=VECTOR_SHA256,
    )
    assert text.split("\n")[0] == "GK1-HMAC-SHA256"
    assert text.split("\n")[3] == "POST"
    assert not text.endswith("\n")
    assert signature(VECTOR_TOKEN, text) == VECTOR_SIGNATURE


def test_design_test_vector_through_sign_request() -> None:
    headers = sign_request(
        key_id=VECTOR_KEY_ID,
        token=VECTOR_TOKEN,
        method="POST",
        raw_path="/products/caf%C3%A9%20x",
        raw_query="size=XL&color=red&color=blue&q=a%2Fb",
        body=b'{"name":"lamp"}',
        timestamp=1767225600,
        nonce="n0nce-0123456789ab",
    )
    assert headers == {
        "X-Gatekey-Key-Id": VECTOR_KEY_ID,
        "X-Gatekey-Timestamp": "1767225600",
        "X-Gatekey-Nonce": "n0nce-0123456789ab",
        "X-Gatekey-Content-SHA256": VECTOR_SHA256,
        "X-Gatekey-Signature": VECTOR_SIGNATURE,
    }


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("/products/caf%c3%a9", "/products/caf%C3%A9"),
        ("/products/café", "/products/caf%C3%A9"),
        ("/a%7Eb/c~d", "/a~b/c~d"),
        ("/a+b", "/a%2Bb"),
        ("/a%2Fb", "/a%2Fb"),
        ("/it's (1)", "/it%27s%20%281%29"),
        ("/", "/"),
    ],
)
def test_canonical_path_decodes_then_encodes_each_segment(raw: str, canonical: str) -> None:
    assert canonical_path(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "decoded", "canonical"),
    [
        ("", [], ""),
        ("b=2&a=1", [("b", "2"), ("a", "1")], "a=1&b=2"),
        ("x=2&x=1&x=10", [("x", "2"), ("x", "1"), ("x", "10")], "x=1&x=10&x=2"),
        ("q=a+b", [("q", "a+b")], "q=a%2Bb"),
        ("q=a%20b", [("q", "a b")], "q=a%20b"),
        ("flag&q=", [("flag", ""), ("q", "")], "flag=&q="),
        ("code=%2541", [("code", "%41")], "code=%2541"),
        ("na%6De=v%C3%A9", [("name", "vé")], "name=v%C3%A9"),
    ],
)
def test_the_client_and_the_authorizer_agree_on_the_canonical_query(
    raw: str, decoded: list[tuple[str, str]], canonical: str
) -> None:
    """The client signs the query as sent; the authorizer gets it decoded by API Gateway."""
    assert canonical_query_from_raw(raw) == canonical
    assert canonical_query(decoded) == canonical


def good_headers() -> dict[str, str | None]:
    return {
        "X-Gatekey-Key-Id": VECTOR_KEY_ID,
        "X-Gatekey-Timestamp": "1767225600",
        "X-Gatekey-Nonce": "n0nce-0123456789ab",
        "X-Gatekey-Content-SHA256": VECTOR_SHA256,
        "X-Gatekey-Signature": VECTOR_SIGNATURE,
    }


def test_well_formed_headers_parse() -> None:
    parsed = parse_signed_headers(good_headers())
    assert parsed.unix_time == 1767225600
    assert parsed.signature == VECTOR_SIGNATURE


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Gatekey-Timestamp", None),
        ("X-Gatekey-Timestamp", "-5"),
        ("X-Gatekey-Timestamp", "1.5"),
        ("X-Gatekey-Nonce", "short"),
        ("X-Gatekey-Nonce", "x" * 65),
        ("X-Gatekey-Nonce", "sixteen-chars-ok!"),
        ("X-Gatekey-Content-SHA256", VECTOR_SHA256.upper()),
        ("X-Gatekey-Signature", VECTOR_SIGNATURE.upper()),
        ("X-Gatekey-Signature", VECTOR_SIGNATURE[3:]),
    ],
)
def test_malformed_headers_are_refused(name: str, value: str | None) -> None:
    headers = good_headers()
    headers[name] = value
    with pytest.raises(MalformedSignatureError):
        parse_signed_headers(headers)


def test_nonces_are_fresh_and_of_the_allowed_shape() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    headers = good_headers()
    for nonce in nonces:
        headers["X-Gatekey-Nonce"] = nonce
        parse_signed_headers(headers)
