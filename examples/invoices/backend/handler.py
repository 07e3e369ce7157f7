"""Invoices' own API: the provider's backend that Gatekey protects (a Lambda proxy integration).

It uses nothing but the standard library, so its asset needs no bundling. Gatekey's authorizer has already
checked the key and its permission for the route; the caller arrives in `requestContext.authorizer`
(DESIGN §4). A signed (HMAC) request's body is checked here against the digest the signature covered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from typing import Any

# An in-memory store: enough for a demonstration, one per Lambda container.
INVOICES: dict[str, dict[str, Any]] = {}
CUSTOMERS = {"cus_1": {"id": "cus_1", "name": "Acme Corp"}, "cus_2": {"id": "cus_2", "name": "Globex"}}


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    method, path = event["httpMethod"], event["path"]
    caller = (event.get("requestContext") or {}).get("authorizer") or {}
    if path == "/status":
        return _answer(200, {"status": "ok"})
    body = _raw_body(event)
    declared = caller.get("contentSha256")
    if declared and not hmac.compare_digest(hashlib.sha256(body).hexdigest(), declared):
        return _answer(401, {"error": {"code": "body_digest_mismatch", "message": "the body is not the signed one"}})
    for pattern, route in ROUTES:
        match = re.fullmatch(pattern, f"{method} {path}")
        if match:
            return route(caller, body, *match.groups())
    return _answer(404, {"error": {"code": "not_found", "message": f"no route {method} {path}"}})


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def _who(caller: dict[str, Any]) -> dict[str, Any]:
    return {"key_id": caller.get("keyId"), "org_id": caller.get("orgId")}


def list_invoices(caller: dict[str, Any], body: bytes) -> dict[str, Any]:
    mine = [invoice for invoice in INVOICES.values() if invoice["org_id"] == caller.get("orgId")]
    return _answer(200, {"data": mine, **_who(caller)})


def create_invoice(caller: dict[str, Any], body: bytes) -> dict[str, Any]:
    try:
        fields = json.loads(body or b"{}")
    except ValueError:
        return _answer(400, {"error": {"code": "invalid_json", "message": "send the invoice as JSON"}})
    invoice = {"id": f"inv_{uuid.uuid4().hex[:12]}", "org_id": caller.get("orgId"), "status": "draft", **fields}
    INVOICES[invoice["id"]] = invoice
    return _answer(201, {**invoice, **_who(caller)})


def read_invoice(caller: dict[str, Any], body: bytes, invoice_id: str) -> dict[str, Any]:
    invoice = INVOICES.get(invoice_id)
    if invoice is None or invoice["org_id"] != caller.get("orgId"):
        return _answer(404, {"error": {"code": "not_found", "message": f"no invoice {invoice_id}"}})
    return _answer(200, {**invoice, **_who(caller)})


def send_invoice(caller: dict[str, Any], body: bytes, invoice_id: str) -> dict[str, Any]:
    return _answer(200, {"id": invoice_id, "action": "sent", **_who(caller)})


def void_invoice(caller: dict[str, Any], body: bytes, invoice_id: str) -> dict[str, Any]:
    INVOICES.pop(invoice_id, None)
    return _answer(200, {"id": invoice_id, "action": "voided", **_who(caller)})


def list_customers(caller: dict[str, Any], body: bytes) -> dict[str, Any]:
    return _answer(200, {"data": list(CUSTOMERS.values()), **_who(caller)})


def read_customer(caller: dict[str, Any], body: bytes, customer_id: str) -> dict[str, Any]:
    customer = CUSTOMERS.get(customer_id)
    if customer is None:
        return _answer(404, {"error": {"code": "not_found", "message": f"no customer {customer_id}"}})
    return _answer(200, {**customer, **_who(caller)})


ROUTES = (
    (r"GET /invoices", list_invoices),
    (r"POST /invoices", create_invoice),
    (r"GET /invoices/([^/]+)", read_invoice),
    (r"DELETE /invoices/([^/]+)", void_invoice),
    (r"POST /invoices/([^/]+)/send", send_invoice),
    (r"GET /customers", list_customers),
    (r"GET /customers/([^/]+)", read_customer),
)
