"""The one path every request body of the management API takes before any route sees it (DESIGN §7).

A body is accepted only as a UTF-8 JSON document under `Content-Type: application/json` (compared
case-insensitively): no duplicate keys, nesting at most 32 levels, numbers within what JSON can carry exactly
(integers within ±(2^53 - 1), finite floats). What passes is handed on re-serialized, so the resolver's own
parsing cannot fail on it; anything else is a `MalformedBodyError`, answered 400 in the error shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
JSON_MEDIA_TYPE = "application/json"


class MalformedBodyError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def canonical_request(event: Mapping[str, Any]) -> dict[str, Any]:
    """The proxy event with its body checked and re-serialized, and its Content-Type spelled canonically."""
    raw = _raw_body(event)
    if not raw:
        return {**event, "body": None, "isBase64Encoded": False}
    headers = dict(event.get("headers") or {})
    _check_media_type(_header(headers, "Content-Type"))
    document = parse_json_document(raw)
    headers = {name: value for name, value in headers.items() if name.lower() != "content-type"}
    headers["Content-Type"] = JSON_MEDIA_TYPE
    multi = {name: values for name, values in (event.get("multiValueHeaders") or {}).items()}
    multi = {name: values for name, values in multi.items() if name.lower() != "content-type"}
    multi["Content-Type"] = [JSON_MEDIA_TYPE]
    return {
        **event,
        "headers": headers,
        "multiValueHeaders": multi,
        "body": json.dumps(document, separators=(",", ":"), ensure_ascii=False),
        "isBase64Encoded": False,
    }


def parse_json_document(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBodyError("invalid_body", "the request body is not UTF-8 text") from None
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_int=_bounded_integer,
            parse_float=_finite_number,
            parse_constant=_no_constant,
        )
    except MalformedBodyError:
        raise
    except RecursionError:
        raise MalformedBodyError("invalid_body", f"the JSON document nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        raise MalformedBodyError("invalid_body", f"the request body is not valid JSON: {error}") from None
    if _depth(document) > MAX_DEPTH:
        raise MalformedBodyError("invalid_body", f"the JSON document nests deeper than {MAX_DEPTH} levels")
    return document


def _raw_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedBodyError("invalid_body", "the request body could not be read") from None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _check_media_type(content_type: str | None) -> None:
    """`application/json`, in any case, with at most a `charset=utf-8` parameter."""
    media_type, *parameters = (part.strip() for part in (content_type or "").split(";"))
    charset_ok = all(
        name.strip().lower() == "charset" and value.strip().strip('"').lower() in ("utf-8", "utf8")
        for name, _, value in (parameter.partition("=") for parameter in parameters if parameter)
    )
    if media_type.lower() != JSON_MEDIA_TYPE or not charset_ok:
        raise MalformedBodyError(
            "unsupported_content_type", "send the body as JSON, with Content-Type: application/json"
        )


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name, value in pairs:
        if name in document:
            raise MalformedBodyError("invalid_body", f"the JSON object has the key {name[:100]!r} twice")
        document[name] = value
    return document


def _bounded_integer(text: str) -> int:
    # Checked on the digits before converting, so a number of thousands of digits costs nothing to refuse.
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_SAFE_INTEGER:
        raise MalformedBodyError("invalid_body", "a number in the JSON document is out of range")
    return int(text)


def _finite_number(text: str) -> int | float:
    if len(text) > 64:
        raise MalformedBodyError("invalid_body", "a number in the JSON document is out of range")
    number = float(text)
    if not math.isfinite(number) or abs(number) > MAX_SAFE_INTEGER:
        raise MalformedBodyError("invalid_body", "a number in the JSON document is out of range")
    # JSON Schema counts 103.0 as the integer 103: so does the API.
    return int(number) if number.is_integer() else number


def _no_constant(name: str) -> Any:
    raise MalformedBodyError("invalid_body", f"{name} is not JSON")


def _depth(document: Any) -> int:
    """How deeply arrays and objects nest (a scalar is 0), without recursion."""
    deepest, pending = 0, [(document, 1)]
    while pending:
        value, level = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:
            pending.extend((child, level + 1) for child in children)
    return deepest
