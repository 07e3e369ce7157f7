"""HmacAuth and BearerAuth, checked on requests as they reach a server (httpx.MockTransport)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import httpx
import pytest

from gatekey.client import BearerAuth, HmacAuth
from gatekey.domain.signing import HEADER_NONCE, HEADER_SIGNATURE, SIGNING_HEADERS, sign_request

VECTOR_TOKEN = "gk_test_7QqK3mZ1xR8vT2wY5nB0cDLh4Jf6Gs9Pk2Ve8Nt1Ua3Rc5Xy7Wb0Zq3wsiVa"
VECTOR_KEY_ID = "key_7QqK3mZ1xR8vT2wY5nB0cD"
VECTOR_SIGNATURE = "v1=55cfb0f25e1167123dfc924523c70144ab817402d500dc3e9e32515592f32e20"


class RecordingServer:
    """Answers 200 and keeps every request exactly as it arrived."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={})


def _client(auth: httpx.Auth, server: RecordingServer) -> httpx.Client:
    return httpx.Client(auth=auth, transport=httpx.MockTransport(server))


def _nonces() -> Callable[[], str]:
    counter = itertools.count()
    return lambda: f"nonce-{next(counter):016d}"


def _signing_headers(request: httpx.Request) -> dict[str, str]:
    return {name: request.headers[name] for name in SIGNING_HEADERS}


def test_design_test_vector_is_reproduced_on_a_staged_url() -> None:
    server = RecordingServer()
    auth = HmacAuth(
        VECTOR_KEY_ID,
        VECTOR_TOKEN,
        base_path="/dev",
        clock=lambda: 1767225600.9,
        nonce_factory=lambda: "n0nce-0123456789ab",
    )
    with _client(auth, server) as client:
        client.post(
            "http://localhost/dev/products/caf%C3%A9%20x?size=XL&color=red&color=blue&q=a%2Fb",
            content=b'{"name":"lamp"}',
        )

    (request,) = server.requests
    assert _signing_headers(request) == {
        "X-Gatekey-Key-Id": VECTOR_KEY_ID,
        "X-Gatekey-Timestamp": "1767225600",
        "X-Gatekey-Nonce": "n0nce-0123456789ab",
        "X-Gatekey-Content-SHA256": "c9911142467923550b9b264f31d22f7820e4c4d41f885b01e256693f732d0696",
        "X-Gatekey-Signature": VECTOR_SIGNATURE,
    }


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "http://api.test/v1/keys?status=active&cursor=abc%3D%3D&label=a%20b", b""),
        ("PATCH", "http://api.test/v1/keys/key_x", b'{"label":"caf\xc3\xa9 + co"}'),
        ("DELETE", "http://api.test/products/a+b/%7Eitem", b""),
        ("GET", "http://api.test/", b""),
    ],
)
def test_headers_are_what_sign_request_gives_for_the_request_on_the_wire(method: str, url: str, body: bytes) -> None:
    server = RecordingServer()
    auth = HmacAuth(VECTOR_KEY_ID, VECTOR_TOKEN, clock=lambda: 1767225600, nonce_factory=_nonces())
    with _client(auth, server) as client:
        client.request(method, url, content=body)

    (request,) = server.requests
    raw_path, _, raw_query = request.url.raw_path.decode().partition("?")
    expected = sign_request(
        key_id=VECTOR_KEY_ID,
        token=VECTOR_TOKEN,
        method=request.method,
        raw_path=raw_path,
        raw_query=raw_query,
        body=request.content,
        timestamp=1767225600,
        nonce=request.headers[HEADER_NONCE],
    )
    assert request.content == body
    assert _signing_headers(request) == expected


def test_the_stage_is_not_signed() -> None:
    server = RecordingServer()
    clock, nonce = (lambda: 1767225600), (lambda: "n0nce-0123456789ab")
    with _client(
        HmacAuth(VECTOR_KEY_ID, VECTOR_TOKEN, base_path="/dev/", clock=clock, nonce_factory=nonce), server
    ) as c:
        c.get("http://api.test/dev/v1/me")
    with _client(HmacAuth(VECTOR_KEY_ID, VECTOR_TOKEN, clock=clock, nonce_factory=nonce), server) as c:
        c.get("http://api.test/v1/me")

    staged, unstaged = server.requests
    assert staged.headers[HEADER_SIGNATURE] == unstaged.headers[HEADER_SIGNATURE]


def test_a_url_outside_the_base_path_is_refused() -> None:
    auth = HmacAuth(VECTOR_KEY_ID, VECTOR_TOKEN, base_path="/dev")
    with _client(auth, RecordingServer()) as client, pytest.raises(ValueError, match="base path '/dev'"):
        client.get("http://api.test/devices/1")


def test_every_request_gets_a_new_nonce_and_timestamp() -> None:
    server = RecordingServer()
    times = iter([1767225600, 1767225601])
    with _client(HmacAuth(VECTOR_KEY_ID, VECTOR_TOKEN, clock=lambda: next(times)), server) as client:
        client.get("http://api.test/v1/me")
        client.get("http://api.test/v1/me")

    first, second = server.requests
    assert first.headers[HEADER_NONCE] != second.headers[HEADER_NONCE]
    assert (first.headers["X-Gatekey-Timestamp"], second.headers["X-Gatekey-Timestamp"]) == ("1767225600", "1767225601")
    assert first.headers[HEADER_SIGNATURE] != second.headers[HEADER_SIGNATURE]


def test_bearer_auth_sends_the_token() -> None:
    server = RecordingServer()
    with _client(BearerAuth(VECTOR_TOKEN), server) as client:
        client.get("http://api.test/v1/me")

    assert server.requests[0].headers["Authorization"] == f"Bearer {VECTOR_TOKEN}"


def test_the_token_never_shows_in_repr() -> None:
    hmac_auth = HmacAuth(VECTOR_KEY_ID, VECTOR_TOKEN, base_path="/dev")
    bearer_auth = BearerAuth(VECTOR_TOKEN)

    assert VECTOR_TOKEN not in repr(hmac_auth)
    assert VECTOR_TOKEN not in str(hmac_auth)
    assert VECTOR_KEY_ID in repr(hmac_auth)
    assert VECTOR_TOKEN not in repr(bearer_auth)
    assert VECTOR_TOKEN not in str(bearer_auth)
