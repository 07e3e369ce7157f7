"""HMAC request signing (DESIGN §4): the string to sign and its parts, for the authorizer, the SDK and the CLI."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

ALGORITHM = "GK1-HMAC-SHA256"
SIGNATURE_PREFIX = "v1="
# How far a request's timestamp may be from the server's clock, either way.
CLOCK_WINDOW_SECONDS = 300

HEADER_KEY_ID = "X-Gatekey-Key-Id"
HEADER_TIMESTAMP = "X-Gatekey-Timestamp"
HEADER_NONCE = "X-Gatekey-Nonce"
HEADER_CONTENT_SHA256 = "X-Gatekey-Content-SHA256"
HEADER_SIGNATURE = "X-Gatekey-Signature"
SIGNING_HEADERS = (HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_CONTENT_SHA256, HEADER_SIGNATURE)

NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,12}")
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
_SIGNATURE_PATTERN = re.compile(r"v1=[0-9a-f]{64}")


def content_sha256(body: bytes) -> str:
    """Lowercase hex SHA-256 of the raw body (of b"" when there is none)."""
    return hashlib.sha256(body).hexdigest()


def _encode(raw: bytes) -> str:
    # quote() with nothing safe leaves exactly A-Z a-z 0-9 - . _ ~ literal and writes upper-case hex.
    return quote(raw, safe="")


def canonical_path(raw_path: str) -> str:
    """The path relative to the API (no stage, no query), each segment decoded then encoded."""
    return "/".join(_encode(unquote_to_bytes(segment)) for segment in raw_path.split("/"))


def canonical_query(parameters: Iterable[tuple[str, str]]) -> str:
    """`name=value` pairs of *decoded* parameters (every value of repeated ones), encoded, sorted, joined by `&`.

    API Gateway hands the authorizer query parameters already decoded, so they are only encoded here;
    a `+` is a literal plus. Pairs sort by encoded name, then encoded value.
    """
    return _joined((_encode(name.encode()), _encode(value.encode())) for name, value in parameters)


def canonical_query_from_raw(raw_query: str) -> str:
    """The canonical query of a query string as it goes on the wire (what a client signs)."""
    pairs = (pair.partition("=") for pair in raw_query.split("&") if pair)
    return _joined((_encode(unquote_to_bytes(name)), _encode(unquote_to_bytes(value))) for name, _, value in pairs)


def _joined(encoded_pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{name}={value}" for name, value in sorted(encoded_pairs))


def decoded_query(multi_value_parameters: Mapping[str, list[str]] | None) -> list[tuple[str, str]]:
    """API Gateway's `multiValueQueryStringParameters` as (name, value) pairs."""
    return [(name, value) for name, values in (multi_value_parameters or {}).items() for value in values or []]


def string_to_sign(*, timestamp: str, nonce: str, method: str, path: str, query: str, body_sha256: str) -> str:
    """The seven lines, joined by `\\n` without a trailing newline; `path` and `query` are already canonical."""
    return "\n".join((ALGORITHM, timestamp, nonce, method.upper(), path, query, body_sha256))


def signature(token: str, text_to_sign: str) -> str:
    """`v1=` + lowercase hex HMAC-SHA256 of the string to sign, keyed with the token string."""
    return SIGNATURE_PREFIX + hmac.new(token.encode(), text_to_sign.encode(), hashlib.sha256).hexdigest()


def signatures_match(expected: str, presented: str) -> bool:
    return hmac.compare_digest(expected.encode(), presented.encode())


def new_nonce() -> str:
    return secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]


def sign_request(
    *,
    key_id: str,
    token: str,
    method: str,
    raw_path: str,
    raw_query: str,
    body: bytes,
    timestamp: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The five `X-Gatekey-*` headers for a request, as a client sends them."""
    body_sha256 = content_sha256(body)
    stamp = str(timestamp)
    once = nonce or new_nonce()
    text = string_to_sign(
        timestamp=stamp,
        nonce=once,
        method=method,
        path=canonical_path(raw_path),
        query=canonical_query_from_raw(raw_query),
        body_sha256=body_sha256,
    )
    return {
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: stamp,
        HEADER_NONCE: once,
        HEADER_CONTENT_SHA256: body_sha256,
        HEADER_SIGNATURE: signature(token, text),
    }


@dataclass(frozen=True)
class SignedHeaders:
    """The signing headers of a request as received, each already checked for shape."""

    key_id: str
    timestamp: str
    nonce: str
    content_sha256: str
    signature: str

    @property
    def unix_time(self) -> int:
        return int(self.timestamp)


class MalformedSignatureError(ValueError):
    """A signing header is missing or not of the shape DESIGN §4 gives it."""


def parse_signed_headers(values: Mapping[str, str | None]) -> SignedHeaders:
    """Check the five headers' shapes (before any storage read); `values` is keyed by header name."""
    key_id, timestamp, nonce, body_sha256, presented = (values.get(name) for name in SIGNING_HEADERS)
    if not (key_id and timestamp and nonce and body_sha256 and presented):
        raise MalformedSignatureError("a signing header is missing")
    if not _TIMESTAMP_PATTERN.fullmatch(timestamp):
        raise MalformedSignatureError("timestamp is not Unix seconds")
    if not NONCE_PATTERN.fullmatch(nonce):
        raise MalformedSignatureError("nonce is not 16-64 characters of [A-Za-z0-9_-]")
    if not _SHA256_PATTERN.fullmatch(body_sha256):
        raise MalformedSignatureError("content digest is not lowercase hex SHA-256")
    if not _SIGNATURE_PATTERN.fullmatch(presented):
        raise MalformedSignatureError("signature is not v1= and lowercase hex")
    return SignedHeaders(key_id, timestamp, nonce, body_sha256, presented)
