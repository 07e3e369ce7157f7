"""HMAC-signed requests through `gatekey serve`, signed by the SDK: what passes and each change that must not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gatekey.client import BearerAuth, GatekeyApiError, GatekeyClient, HmacAuth
from gatekey.domain.signing import HEADER_KEY_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP
from tests.e2e.server import RunningGatekey

UNAUTHORIZED = {"message": "Unauthorized"}
BODY = b'{"name":"lamp"}'


@pytest.fixture(scope="module")
def admin(gatekey: RunningGatekey) -> Iterator[GatekeyClient]:
    with GatekeyClient(gatekey.url, BearerAuth(gatekey.admin_token)) as client:
        yield client


@pytest.fixture(scope="module")
def signer(admin: GatekeyClient) -> tuple[str, str]:
    """An HMAC key that may write products and orders: a 401 below is the signature's doing, never a 403."""
    key = admin.create_key(label="signer", auth_mode="hmac", permissions={"products": "write", "orders": "write"})
    assert key.auth_mode == "hmac"
    return key.id, key.secret


def signed_request(
    gatekey: RunningGatekey,
    key: tuple[str, str],
    method: str,
    url: str,
    *,
    body: bytes = b"",
    clock: Callable[[], float] = time.time,
) -> httpx.Request:
    """A request as HmacAuth signs it, ready to send as is or with one thing changed."""
    request = httpx.Request(
        method, gatekey.url + url, content=body, headers={"Content-Type": "application/json"} if body else {}
    )
    signed: httpx.Request = next(HmacAuth(*key, clock=clock).sync_auth_flow(request))
    return signed


def resent(
    request: httpx.Request,
    *,
    method: str | None = None,
    url: str | None = None,
    body: bytes | None = None,
    **headers: str,
) -> httpx.Request:
    """The same signed headers on a request with one part changed."""
    kept = {name: value for name, value in request.headers.items() if name.lower() not in {"content-length", "host"}}
    kept.update({name.replace("_", "-"): value for name, value in headers.items()})
    return httpx.Request(
        method or request.method,
        request.url.copy_with(raw_path=url.encode()) if url else request.url,
        headers=kept,
        content=request.content if body is None else body,
    )


def send(request: httpx.Request) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.send(request)


def test_signed_get_and_post_succeed(gatekey: RunningGatekey, signer: tuple[str, str]) -> None:
    got = send(signed_request(gatekey, signer, "GET", "/products?size=XL&color=red&color=blue"))
    assert got.status_code == 200, got.text
    assert got.json()["key_id"] == signer[0]
    posted = send(signed_request(gatekey, signer, "POST", "/products?size=XL", body=BODY))
    assert posted.status_code == 201, posted.text


def test_the_sdk_signs_any_request_through_httpx(gatekey: RunningGatekey, signer: tuple[str, str]) -> None:
    with httpx.Client(base_url=gatekey.url, auth=HmacAuth(*signer), timeout=10) as client:
        assert client.get("/orders", params={"status": "open"}).status_code == 200
        assert client.post("/orders", json={"sku": "lamp", "note": "a b+c"}).status_code == 201
        assert client.delete("/products/caf%C3%A9").status_code == 200


CHANGES: dict[str, Callable[[httpx.Request], httpx.Request]] = {
    "path": lambda request: resent(request, url="/orders?size=XL"),
    "query value": lambda request: resent(request, url="/products?size=XS"),
    "method": lambda request: resent(request, method="PUT"),
    "one body byte": lambda request: resent(request, body=BODY.replace(b"lamp", b"lamP")),
    "wrong signature": lambda request: resent(
        request,
        **{
            HEADER_SIGNATURE: request.headers[HEADER_SIGNATURE][:-1] + "0"
            if not request.headers[HEADER_SIGNATURE].endswith("0")
            else request.headers[HEADER_SIGNATURE][:-1] + "1"
        },
    ),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_one_thing_changed_after_signing_is_401(gatekey: RunningGatekey, signer: tuple[str, str], change: str) -> None:
    response = send(CHANGES[change](signed_request(gatekey, signer, "POST", "/products?size=XL", body=BODY)))
    assert response.status_code == 401, response.text


def test_a_changed_body_is_refused_by_the_backend_not_the_authorizer(
    gatekey: RunningGatekey, signer: tuple[str, str]
) -> None:
    response = send(resent(signed_request(gatekey, signer, "POST", "/products", body=BODY), body=b'{"name":"lamP"}'))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "body_digest_mismatch"


# Timestamps are whole seconds: a clock 301 s ahead can sign a time only 300.x s ahead of the server's by the time
# the request arrives, so the test stays 2 s outside the window.
@pytest.mark.parametrize("skew", [-302, 302])
def test_a_timestamp_more_than_300_seconds_off_is_401(
    gatekey: RunningGatekey, signer: tuple[str, str], skew: int
) -> None:
    request = signed_request(gatekey, signer, "GET", "/products", clock=lambda: time.time() + skew)
    response = send(request)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_a_timestamp_edited_after_signing_is_401(gatekey: RunningGatekey, signer: tuple[str, str]) -> None:
    request = signed_request(gatekey, signer, "GET", "/products")
    later = str(int(request.headers[HEADER_TIMESTAMP]) + 1)
    assert send(resent(request, **{HEADER_TIMESTAMP: later})).status_code == 401


def test_a_replayed_request_is_401(gatekey: RunningGatekey, signer: tuple[str, str]) -> None:
    request = signed_request(gatekey, signer, "POST", "/orders", body=BODY)
    assert send(request).status_code == 201
    replay = send(resent(request))
    assert replay.status_code == 401
    assert replay.json() == UNAUTHORIZED


def test_another_keys_id_in_the_headers_is_401(
    gatekey: RunningGatekey, admin: GatekeyClient, signer: tuple[str, str]
) -> None:
    other = admin.create_key(label="other signer", auth_mode="hmac", permissions={"products": "write"})
    request = signed_request(gatekey, signer, "GET", "/products")
    assert send(resent(request, **{HEADER_KEY_ID: other.id})).status_code == 401


@pytest.mark.parametrize(
    ("signed_as", "sent_as"),
    [
        ("/products?size=XL&color=red&color=blue", "/products?color=blue&size=XL&color=red"),
        ("/products/caf%C3%A9%20x", "/products/caf%c3%a9%20x"),
        ("/products?q=a%2Fb&t=%7Ex", "/products?q=a/b&t=~x"),
        ("/products?color=red", "/products?color=%72%65%64"),
        ("/products/a~b", "/products/a%7Eb"),
        ("/products?code=%2541&plus=a+b", "/products?plus=a%2Bb&code=%2541"),
    ],
    ids=[
        "query order",
        "lower-case escapes",
        "escaped slash and tilde",
        "escaped letters",
        "escaped path tilde",
        "escaped percent and literal plus",
    ],
)
def test_variants_of_the_same_request_succeed(
    gatekey: RunningGatekey, signer: tuple[str, str], signed_as: str, sent_as: str
) -> None:
    response = send(resent(signed_request(gatekey, signer, "GET", signed_as), url=sent_as))
    assert response.status_code == 200, response.text


def test_auth_mode_decides_how_a_key_is_presented(
    gatekey: RunningGatekey, admin: GatekeyClient, signer: tuple[str, str]
) -> None:
    with gatekey.client(signer[1]) as as_bearer:
        assert as_bearer.get("/products").status_code == 401
    bearer = admin.create_key(label="bearer", permissions={"products": "read"})
    with httpx.Client(base_url=gatekey.url, auth=HmacAuth(bearer.id, bearer.secret), timeout=10) as as_hmac:
        assert as_hmac.get("/products").status_code == 401


def test_an_hmac_key_manages_keys_through_the_sdk(gatekey: RunningGatekey, admin: GatekeyClient) -> None:
    manager = admin.create_key(label="manager", auth_mode="hmac", permissions={"keys": "write"})
    with GatekeyClient(gatekey.url, HmacAuth(manager.id, manager.secret)) as signed:
        assert signed.me().key.id == manager.id
        created = signed.create_key(label="made by a signed request", permissions={"keys": "read"})
        assert signed.get_key(created.id).label == "made by a signed request"


def test_a_signed_management_call_with_a_changed_body_creates_nothing(
    gatekey: RunningGatekey, admin: GatekeyClient
) -> None:
    manager = admin.create_key(label="manager", auth_mode="hmac", permissions={"keys": "write"})
    before = {key.id for key in admin.iter_keys()}
    request = signed_request(gatekey, (manager.id, manager.secret), "POST", "/v1/keys", body=b'{"label":"small"}')
    response = send(resent(request, body=b'{"label":"large","permissions":{"keys":"write"}}'))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "body_digest_mismatch"
    assert {key.id for key in admin.iter_keys()} == before


def test_reveal_returns_the_token_of_hmac_and_recoverable_keys_only(
    gatekey: RunningGatekey, admin: GatekeyClient
) -> None:
    hmac_key = admin.create_key(label="signer", auth_mode="hmac", permissions={"products": "read"})
    assert admin.reveal_key(hmac_key.id).secret == hmac_key.secret
    recoverable = admin.create_key(label="recoverable", recoverable=True, permissions={"products": "read"})
    assert admin.reveal_key(recoverable.id).secret == recoverable.secret
    plain = admin.create_key(label="plain", permissions={"products": "read"})
    with pytest.raises(GatekeyApiError) as refused:
        admin.reveal_key(plain.id)
    assert (refused.value.status_code, refused.value.code) == (409, "key_not_revealable")
    assert "secret" not in admin.get_key(hmac_key.id).model_dump()


def test_rotating_an_hmac_key_follows_the_grace_period(gatekey: RunningGatekey, admin: GatekeyClient) -> None:
    key = admin.create_key(label="rotating signer", auth_mode="hmac", permissions={"products": "read"})

    def status_with(token: str) -> int:
        return send(signed_request(gatekey, (key.id, token), "GET", "/products")).status_code

    rotated = admin.rotate_key(key.id, grace_period_seconds=600)
    assert rotated.id == key.id and rotated.secret != key.secret
    assert admin.reveal_key(key.id).secret == rotated.secret
    assert (status_with(key.secret), status_with(rotated.secret)) == (200, 200)
    again = admin.rotate_key(key.id, grace_period_seconds=0)
    assert (status_with(key.secret), status_with(rotated.secret), status_with(again.secret)) == (401, 401, 200)
    admin.revoke_key(key.id)
    assert status_with(again.secret) == 401


def test_headers_printed_by_gatekey_sign_are_accepted(
    gatekey: RunningGatekey, signer: tuple[str, str], tmp_path: Any
) -> None:
    import subprocess

    from tests.e2e.server import GATEKEY

    token_file = tmp_path / "token"
    token_file.write_text(signer[1])
    url = f"{gatekey.url}/products?size=XL"
    printed = subprocess.run(
        [str(GATEKEY), "sign", "--token-file", str(token_file), "--data-binary", BODY.decode(), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    headers = dict(value.split(":", 1) for flag, value in zip(printed[::2], printed[1::2], strict=True) if flag == "-H")
    response = httpx.post(url, content=BODY, headers={**headers, "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 201, response.text
