"""The example provider (examples/invoices) behind `gatekey serve --handler`: its own Lambda proxy handler answers
its API locally, invoked as API Gateway invokes it, without another tool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gatekey.client import HmacAuth
from tests.e2e.server import RunningGatekey, ok, start_gatekey

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def invoices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    """Started exactly as the example's instructions say, from the repository's root."""
    with start_gatekey(
        tmp_path_factory.mktemp("invoices-handler"),
        "--config",
        "examples/invoices/gatekey.toml",
        "--handler",
        "examples/invoices/backend/handler.py:lambda_handler",
        cwd=REPOSITORY,
    ) as running:
        yield running


def test_a_writer_creates_and_reads_an_invoice(invoices: RunningGatekey) -> None:
    key = invoices.create_key(permissions={"invoices": "write"})
    with invoices.client(key["secret"]) as client:
        created = ok(client.post("/invoices", json={"customer": "cus_1", "amount": 1200}), 201)
        read = ok(client.get(f"/invoices/{created['id']}"))
        listed = ok(client.get("/invoices"))

    # The handler read the caller from requestContext.authorizer.
    assert (created["key_id"], created["org_id"]) == (key["id"], key["org_id"])
    assert read["amount"] == 1200
    assert [invoice["id"] for invoice in listed["data"]] == [created["id"]]


def test_a_reader_may_send_but_not_create(invoices: RunningGatekey) -> None:
    key = invoices.create_key(permissions={"invoices": "read"})
    with invoices.client(key["secret"]) as client:
        sent = client.post("/invoices/inv_1/send")
        created = client.post("/invoices", json={"amount": 1})
        customers = client.get("/customers")

    assert ok(sent)["action"] == "sent"
    assert (created.status_code, created.json()) == (403, {"message": "Forbidden"})
    assert customers.status_code == 403


def test_a_signed_request_reaches_the_handler_with_its_digest(invoices: RunningGatekey) -> None:
    key = invoices.create_key(auth_mode="hmac", permissions={"invoices": "write", "customers": "read"})
    with httpx.Client(base_url=invoices.url, auth=HmacAuth(key["id"], key["secret"]), timeout=10) as client:
        created = client.post("/invoices", content=b'{"amount": 5}')
        customer = client.get("/customers/cus_1")

    assert created.status_code == 201
    assert ok(customer)["name"] == "Acme Corp"


def test_the_status_page_is_public(invoices: RunningGatekey) -> None:
    with invoices.client() as anonymous:
        status = anonymous.get("/status")
        invoices_list = anonymous.get("/invoices")

    assert ok(status) == {"status": "ok"}
    assert invoices_list.status_code == 401


def test_the_example_catalog_is_the_one_keys_are_granted_from(invoices: RunningGatekey) -> None:
    with invoices.admin() as admin:
        catalog = ok(admin.get("/v1/permissions"))["data"]
        refused = admin.post("/v1/keys", json={"label": "store", "permissions": {"products": "write"}})

    assert {"invoices", "customers"} <= {entry["resource"] for entry in catalog}
    assert refused.status_code == 400
