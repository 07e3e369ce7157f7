"""The management API's OpenAPI document (DESIGN §7): Powertools generates it from the routes and models; this
module adds what only Gatekey knows, so the document tells the truth.

- Every answer an operation can give: its own errors (400, 404, 409, 503 in the error shape), and those of the
  gateway in front of it (401, 403, 413, 429, 503 as `{"message": ...}`), never Powertools' 422, which the API
  does not send (invalid input is 400).
- The security schemes (a Bearer key; the five headers of an HMAC-signed request).
- The `Gatekey-Version` header on every request and answer, `Idempotency-Key` on every POST.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from gatekey.api.idempotency import IDEMPOTENCY_KEY_PATTERN
from gatekey.domain import signing
from gatekey.http_conventions import VERSION_HEADER
from gatekey.settings import API_VERSION, SUPPORTED_API_VERSIONS

_REF = "#/components/schemas/"
ERROR = "Error"
GATEWAY_ERROR = "GatewayError"
SCHEMAS: dict[str, dict[str, Any]] = {
    ERROR: {
        "type": "object",
        "description": "An error the API answers: a stable code and a sentence naming the problem",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    GATEWAY_ERROR: {
        "type": "object",
        "description": "An answer of API Gateway itself, before or instead of the API (DESIGN §4, §13)",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    },
}

# Who answers each status: the API (error shape), the gateway in front of it ({"message"}), or either.
_BY_API, _BY_GATEWAY, _BY_EITHER = (ERROR,), (GATEWAY_ERROR,), (ERROR, GATEWAY_ERROR)
_EVERY_OPERATION: dict[int, tuple[str, tuple[str, ...]]] = {
    400: ("Bad input: a field, parameter, header or body the API does not accept, named in the message", _BY_API),
    401: ("No usable credentials (the gateway), or a signed body that is not the one signed (the API)", _BY_EITHER),
    403: ("The key may not make this request: its permissions, its IP allowlist, or its role", _BY_EITHER),
    413: ("The body is larger than 10 MB", _BY_GATEWAY),
    429: ("Too many requests: the stage's throttling or the key's plan", _BY_GATEWAY),
    503: ("Storage or the authorizer is unavailable; retry later", _BY_EITHER),
}
_NOT_FOUND = (404, ("No such object in this organisation (other organisations' objects included)", _BY_API))
_CONFLICT = (409, ("Conflicts with the current state (an Idempotency-Key reused with another body, say)", _BY_API))
_BOUND_NAMES = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}

HMAC_SCHEMES = {
    f"hmac{header.removeprefix('X-Gatekey-').replace('-', '')}": header for header in signing.SIGNING_HEADERS
}
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <API key>` (DESIGN §4)"},
    **{
        name: {"type": "apiKey", "in": "header", "name": header, "description": "An HMAC-signed request (DESIGN §4)"}
        for name, header in HMAC_SCHEMES.items()
    },
}
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {name: [] for name in HMAC_SCHEMES}]

VERSION_PARAMETER = {
    "name": VERSION_HEADER,
    "in": "header",
    "required": False,
    "description": "The API version the client was written against; an unknown one is 400",
    "schema": {"type": "string", "enum": sorted(SUPPORTED_API_VERSIONS)},
}
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key and body within 24 h returns the first answer; another body is 409",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
}
VERSION_RESPONSE_HEADER = {
    VERSION_HEADER: {
        "description": "The API version of the answer",
        "required": True,
        "schema": {"type": "string", "enum": [API_VERSION]},
    }
}


def complete_document(generated: Mapping[str, Any]) -> dict[str, Any]:
    """Powertools' document for the routes, completed with Gatekey's answers, headers and security."""
    document = copy.deepcopy(dict(generated))
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    schemas.update(copy.deepcopy(SCHEMAS))
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    document["security"] = copy.deepcopy(SECURITY)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _complete_operation(path, method, operation)
    return document


def _complete_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    answers = dict(_EVERY_OPERATION)
    if "{" in path or "404" in responses:
        answers.update([_NOT_FOUND])
    if method == "post" or "409" in responses:
        answers.update([_CONFLICT])
    for status, (description, shapes) in answers.items():
        declared = responses.get(str(status), {})
        responses[str(status)] = {
            "description": declared.get("description") or description,
            "content": {"application/json": {"schema": _one_of(shapes)}},
        }
    for response in responses.values():
        response["headers"] = copy.deepcopy(VERSION_RESPONSE_HEADER)
    parameters = operation.setdefault("parameters", [])
    for parameter in parameters:
        parameter["schema"] = _parameter_schema(parameter.get("schema", {}))
    parameters.append(copy.deepcopy(VERSION_PARAMETER))
    if method == "post":
        parameters.append(copy.deepcopy(IDEMPOTENCY_PARAMETER))


def _one_of(shapes: tuple[str, ...]) -> dict[str, Any]:
    references = [{"$ref": _REF + shape} for shape in shapes]
    return references[0] if len(references) == 1 else {"anyOf": references}


def _parameter_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter is text on the wire: never null (it is left out instead), bounds under their JSON Schema names."""
    alternatives = schema.get("anyOf")
    if isinstance(alternatives, list):
        present = [alternative for alternative in alternatives if alternative.get("type") != "null"]
        if len(present) == 1:
            schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **present[0]}
    return {_BOUND_NAMES.get(name, name): value for name, value in schema.items()}
