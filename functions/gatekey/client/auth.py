"""httpx authentication for Gatekey-protected APIs: a Bearer token, or HMAC-signed requests (DESIGN §4)."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import httpx

from gatekey.client.api_paths import path_within_api
from gatekey.domain.signing import new_nonce, sign_request


class BearerAuth(httpx.Auth):
    """Sends `Authorization: Bearer <token>` with every request."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:  # never show the token
        return "BearerAuth(token=<hidden>)"


class HmacAuth(httpx.Auth):
    """Signs every request with the five `X-Gatekey-*` headers, keyed with the token.

    `base_path` is what the URLs carry in front of the API's own paths (the API Gateway stage, e.g. `/dev`):
    it is not signed. Each request, and each request a flow re-sends, gets its own timestamp and nonce.
    """

    requires_request_body = True  # the body's SHA-256 is signed

    def __init__(
        self,
        key_id: str,
        token: str,
        *,
        base_path: str = "",
        clock: Callable[[], float] = time.time,
        nonce_factory: Callable[[], str] | None = None,
    ) -> None:
        self.key_id = key_id
        self.base_path = base_path
        self._token = token
        self._clock = clock
        self._nonce_factory = nonce_factory or new_nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
        request.headers.update(
            sign_request(
                key_id=self.key_id,
                token=self._token,
                method=request.method,
                raw_path=path_within_api(raw_path, self.base_path),
                raw_query=raw_query,
                body=request.content,
                timestamp=int(self._clock()),
                nonce=self._nonce_factory(),
            )
        )
        yield request

    def __repr__(self) -> str:  # never show the token
        return f"HmacAuth(key_id={self.key_id!r}, base_path={self.base_path!r})"
