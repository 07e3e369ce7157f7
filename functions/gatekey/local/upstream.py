"""The provider's own HTTP server behind `gatekey serve --upstream`: API Gateway's HTTP proxy integration, with
the caller headers of DESIGN §11 set from the authorizer's context and the answer streamed back as it arrives."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from gatekey.api_gateway import CALLER_HEADERS
from gatekey.local.events import AuthorizerOutput, GatewayRequest, HttpRequest, context_string
from gatekey.local.gateway import BodyInterruptedError, HttpResponse, StreamedBody
from gatekey.settings import API_VERSION

logger = logging.getLogger(__name__)

# API Gateway gives an integration 29 s by default. Here the limit applies to connecting, to the wait for the
# answer's headers and to each wait between parts of its body, so a long stream that keeps moving is not cut.
INTEGRATION_TIMEOUT_SECONDS = 29.0

# RFC 9110 §7.6.1: headers about one connection, not the message; never passed from one side to the other.
HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Host names the upstream (httpx sets it from the URL, as API Gateway's HTTP proxy does); the gateway already
# answered any `Expect: 100-continue` and holds the whole body.
_NOT_FORWARDED = frozenset({"host", "expect"})
_LINE_FOLD = re.compile(r"\r?\n[ \t]*")
_CALLER_HEADER_NAMES = frozenset(name.lower() for name in CALLER_HEADERS)
_UPSTREAM_UNAVAILABLE = json.dumps(
    {"error": {"code": "upstream_unavailable", "message": "The API's backend did not answer; try again later."}}
).encode()


class UpstreamUrlError(ValueError):
    """An --upstream URL the gateway cannot send requests to."""


def upstream_url(text: str) -> httpx.URL:
    """An http(s) URL with a host and no query or fragment; its path (if any) prefixes every forwarded path."""
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as error:
        raise UpstreamUrlError(f"{text!r} is not a URL: {error}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise UpstreamUrlError(f"{text!r} must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:9000")
    if url.query or url.fragment:
        raise UpstreamUrlError(f"{text!r} must not have a query or fragment: each request brings its own")
    return url


class HttpProxyIntegration:
    """Sends the request on to the upstream (method, raw path and query, headers, body) and its answer back
    unchanged but for `Gatekey-Version`, the body passed on while it arrives; an upstream that cannot be
    reached, or does not answer in time, is 502 in Gatekey's error shape."""

    def __init__(self, url: httpx.URL, *, timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS) -> None:
        self.url = url
        self._base_path = url.raw_path.rstrip(b"/")
        self._client = httpx.Client(
            timeout=timeout_seconds,
            follow_redirects=False,  # a redirect is the client's to follow, as through API Gateway
            trust_env=False,  # no proxy or .netrc credentials from the environment: straight to the upstream
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),  # each client's cookies stay its own
        )

    def respond(self, request: GatewayRequest, authorizer: AuthorizerOutput | None) -> HttpResponse:
        http = request.http
        target = self._base_path + http.raw_path.encode("latin-1")
        if http.raw_query:
            target += b"?" + http.raw_query.encode("latin-1")
        outgoing = httpx.Request(
            http.method,
            self.url,
            headers=upstream_request_headers(http, authorizer),
            content=http.body,
            # The path and query go out byte for byte as received, without httpx normalising them.
            extensions={"target": target},
        )
        try:
            answer = self._client.send(outgoing, stream=True)
        except httpx.HTTPError as error:
            logger.warning("the upstream %s did not answer %s %s: %r", self.url, http.method, http.raw_path, error)
            return HttpResponse(
                502,
                (("Content-Type", "application/json"), ("Gatekey-Version", API_VERSION)),
                _UPSTREAM_UNAVAILABLE,
            )
        return HttpResponse(
            answer.status_code,
            upstream_response_headers(answer.headers),
            StreamedBody(chunks=_chunks(answer), length=_announced_length(answer.headers), close=answer.close),
        )


def upstream_request_headers(http: HttpRequest, authorizer: AuthorizerOutput | None) -> list[tuple[bytes, bytes]]:
    """The client's headers without hop-by-hop ones and without anything under a caller header's name, then
    `X-Forwarded-For` with the client's address added, then every caller header from the authorizer's context
    (empty when the context lacks it, and all empty on a public route, which has no authorizer)."""
    dropped = HOP_BY_HOP_HEADERS | _NOT_FORWARDED | _connection_options(http.headers)
    forwarded_for = [value for name, value in http.headers if name.lower() == "x-forwarded-for"]
    headers = [
        # http.server read the header bytes as latin-1: encoding them back gives the bytes the client sent.
        (name.encode("latin-1"), _unfolded(value).encode("latin-1"))
        for name, value in http.headers
        if name.lower() not in dropped and name.lower() != "x-forwarded-for" and not _names_caller_header(name)
    ]
    headers.append((b"X-Forwarded-For", ", ".join([*forwarded_for, http.source_ip]).encode("latin-1")))
    context = authorizer.context if authorizer else {}
    headers.extend(
        (name.encode("ascii"), context_string(context.get(key, "")).encode()) for name, key in CALLER_HEADERS.items()
    )
    return headers


def upstream_response_headers(headers: httpx.Headers) -> tuple[tuple[str, str], ...]:
    """The upstream's headers as it sent them (repeats kept), without hop-by-hop ones, with `Gatekey-Version`."""
    pairs = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers.raw]
    dropped = HOP_BY_HOP_HEADERS | _connection_options(pairs) | {"gatekey-version"}
    return (*((name, value) for name, value in pairs if name.lower() not in dropped), ("Gatekey-Version", API_VERSION))


def _unfolded(value: str) -> str:
    # A value continued on the next line (obsolete line folding) is one line for the upstream, as RFC 9112 §5.2
    # asks of a proxy: the continuation stays part of this header's value and never becomes a header of its own.
    return _LINE_FOLD.sub(" ", value)


def _names_caller_header(name: str) -> bool:
    # Many servers (CGI, WSGI, Rack) read `Gatekey_Key_Id` as `Gatekey-Key-Id`; such a spelling is dropped too.
    return name.lower().replace("_", "-") in _CALLER_HEADER_NAMES


def _connection_options(headers: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> frozenset[str]:
    """Header names the `Connection` header lists: hop-by-hop for this connection only."""
    return frozenset(
        option.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for option in value.split(",")
        if option.strip()
    )


def _announced_length(headers: httpx.Headers) -> int | None:
    values = set(headers.get_list("Content-Length"))
    if len(values) != 1:
        return None
    value = values.pop()
    return int(value) if value.isdigit() else None


def _chunks(answer: httpx.Response) -> Iterator[bytes]:
    """The body's bytes as they come off the wire, still encoded as the upstream sent them (gzip stays gzip)."""
    try:
        yield from answer.iter_raw()
    except httpx.HTTPError as error:
        logger.warning("the upstream broke off its answer to %s %s: %r", answer.request.method, answer.url, error)
        raise BodyInterruptedError(str(error)) from error
