"""The management API's OpenAPI document (DESIGN §7): Powertools generates it from the routes and models; this
module adds what only Gatekey knows, so the document tells the truth.

- Every answer an operation can give: its own errors (400, 404, 409, 503 in the error shape), and those of the
  gateway in front of it (401, 403, 413, 429, 503 as `{"message": ...}`), never Powertools' 422, which the API
  does not send (invalid input is 400).
- The security schemes (a Bearer key; the five headers of an HMAC-signed request).
- The `Gatekey-Version` header on every request and answer, `Idempotency-Key` on every POST.
- Links from what an operation creates to what can be done with it next (OpenAPI links), and an example of
  every request body.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatekey.api.idempotency import IDEMPOTENCY_KEY_PATTERN
from gatekey.api_gateway import GATEKEY_ROUTES
from gatekey.domain import signing
from gatekey.domain.authentication import CONSOLE_HEADER, SESSION_COOKIE
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
SECURITY_SCHEMES.update(
    consoleSession={
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "A console session (DESIGN §12), set by POST /v1/sessions; with the console header",
    },
    consoleHeader={
        "type": "apiKey",
        "in": "header",
        "name": CONSOLE_HEADER,
        "description": "`1`: sent by the console's pages, which another site's page cannot do",
    },
)
SECURITY: list[dict[str, list[str]]] = [
    {"bearer": []},
    {name: [] for name in HMAC_SCHEMES},
    {"consoleSession": [], "consoleHeader": []},
]
# Gatekey's resources that need no credentials: the console's sign-in and invitations (the rest are not documented).
PUBLIC_PATHS = frozenset(route.path for route in GATEKEY_ROUTES if not route.authorized)
RETRY_AFTER_HEADER = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer", "minimum": 1}}
}

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


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: the answer of `source` (method, path, status) feeds `target`'s parameters."""

    name: str
    target: tuple[str, str]  # method, path
    parameters: Mapping[str, str]  # parameter -> runtime expression


_CREATED_ID = "$response.body#/id"
_KEY = {"key_id": _CREATED_ID}
_NEXT_PAGE = {"cursor": "$response.body#/next_cursor"}
LINKS: dict[tuple[str, str, str], tuple[Link, ...]] = {
    ("post", "/v1/keys", "201"): (
        Link("ReadKey", ("get", "/v1/keys/{key_id}"), _KEY),
        Link("EditKey", ("patch", "/v1/keys/{key_id}"), _KEY),
        Link("RotateKey", ("post", "/v1/keys/{key_id}/rotate"), _KEY),
        Link("RevealKey", ("post", "/v1/keys/{key_id}/reveal"), _KEY),
        Link("RevokeKey", ("delete", "/v1/keys/{key_id}"), _KEY),
    ),
    ("post", "/v1/keys/{key_id}/rotate", "200"): (Link("ReadKey", ("get", "/v1/keys/{key_id}"), _KEY),),
    ("post", "/v1/users", "201"): (
        Link("ReadUser", ("get", "/v1/users/{user_id}"), {"user_id": _CREATED_ID}),
        Link("DeleteUser", ("delete", "/v1/users/{user_id}"), {"user_id": _CREATED_ID}),
    ),
    ("post", "/v1/connections", "201"): (
        Link("ReadConnection", ("get", "/v1/connections/{connection_id}"), {"connection_id": _CREATED_ID}),
        Link("DeleteConnection", ("delete", "/v1/connections/{connection_id}"), {"connection_id": _CREATED_ID}),
    ),
    ("post", "/v1/webhooks", "201"): (
        Link("ReadWebhook", ("get", "/v1/webhooks/{webhook_id}"), {"webhook_id": _CREATED_ID}),
        Link("DeleteWebhook", ("delete", "/v1/webhooks/{webhook_id}"), {"webhook_id": _CREATED_ID}),
    ),
    ("post", "/v1/orgs", "201"): (
        Link("ReadOrg", ("get", "/v1/orgs/{org_id}"), {"org_id": _CREATED_ID}),
        Link("AddOrgUser", ("post", "/v1/orgs/{org_id}/users"), {"org_id": _CREATED_ID}),
        Link("DeleteOrg", ("delete", "/v1/orgs/{org_id}"), {"org_id": _CREATED_ID}),
    ),
    ("post", "/v1/orgs/{org_id}/users", "201"): (
        Link(
            "MintUserKey",
            ("post", "/v1/orgs/{org_id}/users/{user_id}/keys"),
            {"org_id": "$request.path.org_id", "user_id": _CREATED_ID},
        ),
    ),
    **{
        ("get", path, "200"): (Link("NextPage", ("get", path), _NEXT_PAGE),)
        for path in ("/v1/keys", "/v1/users", "/v1/connections", "/v1/webhooks", "/v1/events", "/v1/logs", "/v1/orgs")
    },
}

# A realistic body for each operation that takes one: the first requests every client tries.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/keys"): {"label": "catalog reader", "permissions": {"keys": "read"}},
    ("patch", "/v1/keys/{key_id}"): {"label": "catalog reader (renamed)", "ip_allowlist": ["203.0.113.0/24"]},
    ("post", "/v1/keys/{key_id}/rotate"): {"grace_period_seconds": 3600},
    ("post", "/v1/users"): {"email": "mia@example.com", "name": "Mia", "role": "member"},
    ("post", "/v1/connections"): {"provider_slug": "hubspot", "end_user_id": "eu_42"},
    ("post", "/v1/webhooks"): {"url": "https://hooks.example.com/gatekey", "events": ["key.created"]},
    ("post", "/v1/orgs"): {"name": "Acme", "key_limit": 10},
    ("post", "/v1/orgs/{org_id}/users"): {"email": "ops@acme.example", "name": "Ops", "role": "admin"},
    ("post", "/v1/orgs/{org_id}/users/{user_id}/keys"): {"label": "Acme admin", "permissions": {"keys": "write"}},
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
    paths = document.get("paths", {})
    for path, operations in paths.items():
        for method, operation in operations.items():
            _complete_operation(path, method, operation)
    for (method, path, status), links in LINKS.items():
        response = paths[path][method]["responses"][status]
        response["links"] = {
            link.name: {
                "operationId": paths[link.target[1]][link.target[0]]["operationId"],
                "parameters": link.parameters,
            }
            for link in links
        }
    for (method, path), example in EXAMPLES.items():
        paths[path][method]["requestBody"]["content"]["application/json"]["example"] = example
    return document


def _operation_id(paths: Mapping[str, Any], method: str, path: str) -> str:
    operation_id: str = paths[path][method]["operationId"]
    return operation_id


def _complete_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    public = path in PUBLIC_PATHS
    slowed = public and "429" in responses  # the operation itself answers 429, with Retry-After
    answers = dict(_EVERY_OPERATION)
    if "{" in path or "404" in responses:
        answers.update([_NOT_FOUND])
    if (method == "post" and not public) or "409" in responses:
        answers.update([_CONFLICT])
    if public:
        # No authorizer in front: no 403, and 401 or 429 only where the operation itself answers them.
        operation["security"] = []
        answers.pop(403)
        if "401" in responses:
            answers[401] = ("", _BY_API)
        else:
            answers.pop(401)
        if slowed:
            answers[429] = ("", _BY_EITHER)
    for status, (description, shapes) in answers.items():
        declared = responses.get(str(status), {})
        responses[str(status)] = {
            "description": declared.get("description") or description,
            "content": {"application/json": {"schema": _one_of(shapes)}},
        }
    for response in responses.values():
        response["headers"] = {**response.get("headers", {}), **copy.deepcopy(VERSION_RESPONSE_HEADER)}
    if slowed:
        responses["429"]["headers"].update(copy.deepcopy(RETRY_AFTER_HEADER))
    parameters = operation.setdefault("parameters", [])
    for parameter in parameters:
        parameter["schema"] = _parameter_schema(parameter.get("schema", {}))
    parameters.append(copy.deepcopy(VERSION_PARAMETER))
    if method == "post" and not public:  # a public reply is not remembered (api/app.py)
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
