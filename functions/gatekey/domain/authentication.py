"""Who is calling: turn presented credentials (Bearer or HMAC) into a usable API key, or say why not (DESIGN §4)."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from gatekey.domain import signing
from gatekey.domain.api_keys import ApiKey, KeyStore, SecretVault
from gatekey.domain.clock import utc_now
from gatekey.domain.connections import ConnectionStore, MalformedConnectionTokenError, connection_id_of
from gatekey.domain.hashing import SecretVerifier
from gatekey.domain.tokens import MalformedTokenError, is_key_id, parse_token

# last_used_at is written at most this often per key, so the warm path stays one read.
LAST_USED_RESOLUTION = timedelta(minutes=1)
CONNECTION_TOKEN_HEADER = "X-Connection-Token"  # noqa: S105 - the header's name, not a token
AUTHORIZATION_HEADER = "Authorization"
# A console session (domain/console_access.py) travels in an HttpOnly cookie, and counts only on requests that also
# carry the console's header: a page of another site can neither send that header without the API's consent (CORS
# preflight, never granted) nor, with SameSite=Strict, the cookie.
SESSION_COOKIE = "gatekey_session"
CONSOLE_HEADER = "X-Gatekey-Console"
COOKIE_HEADER = "Cookie"
# DESIGN §4: the scheme in any case, one or more spaces, the token; no other whitespace or control character.
BEARER_CREDENTIALS = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([!-~]+)")


class NonceStore(Protocol):
    """Remembers each (key, nonce) of a signed request until the timestamp leaves the clock window."""

    def accept_once(self, key_id: str, nonce: str, keep_until_epoch: int) -> bool:
        """True the first time; False for a nonce the key used already (a replay)."""


class Unauthenticated(Exception):
    """No usable credentials (answered 401); the reason goes to logs and metrics only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessDenied(Exception):
    """Valid credentials that may not make this request (answered 403)."""

    def __init__(self, reason: str, key: ApiKey) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value, whatever case the client (or API Gateway) gave its name."""
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == wanted:
            return value
    return None


def session_cookies(cookie_header: str | None) -> list[str]:
    """Every value the Cookie header gives the session cookie (a browser sends `name=value; name2=value2`)."""
    values = []
    for pair in (cookie_header or "").split(";"):
        name, separator, value = pair.strip().partition("=")
        if separator and name == SESSION_COOKIE:
            values.append(value.strip().strip('"'))
    return values


@dataclass(frozen=True)
class PresentedRequest:
    """What the authorizer sees of a request: API Gateway gives it no body, only the body's declared digest."""

    method: str
    path: str  # relative to the API, as received (still percent-encoded)
    query: Sequence[tuple[str, str]]  # decoded, every value of repeated parameters
    headers: Mapping[str, str]
    source_ip: str
    # Every value of each header, as API Gateway's multiValueHeaders has them; a credential sent twice is refused.
    header_values: Mapping[str, Sequence[str]] | None = None

    def repeats(self, name: str) -> bool:
        wanted = name.lower()
        return sum(len(values) for key, values in (self.header_values or {}).items() if key.lower() == wanted) > 1


@dataclass(frozen=True)
class Authenticated:
    key: ApiKey
    content_sha256: str | None = None  # the body digest an HMAC signature covers
    connection_id: str | None = None  # the connection whose token the request carried, checked


class UnsealedSecrets:
    """Decrypted HMAC tokens kept in memory per (key id, secret version), so a warm request needs no KMS call.

    Rotation bumps the version, so the next request decrypts the new token; revocation and expiry are
    decided from the freshly read item, never from this cache.
    """

    def __init__(self, vault: SecretVault, max_entries: int = 10_000) -> None:
        self._vault = vault
        self._max_entries = max_entries
        self._tokens: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def tokens_accepted(self, key: ApiKey, now: datetime) -> list[str]:
        return [self._token(key, version, sealed) for version, sealed in key.sealed_secrets_accepted(now)]

    def _token(self, key: ApiKey, version: int, sealed: str) -> str:
        cache_key = (key.key_id, version)
        with self._lock:
            token = self._tokens.get(cache_key)
        if token is None:
            token = self._vault.unseal(sealed, key.key_id, key.org_id)
            with self._lock:
                self._tokens[cache_key] = token
                if len(self._tokens) > self._max_entries:
                    self._tokens.popitem(last=False)
        return token


class Authenticator:
    def __init__(
        self,
        keys: KeyStore,
        verifier: SecretVerifier,
        token_prefix: str,
        *,
        hmac_secrets: UnsealedSecrets,
        nonces: NonceStore,
        connections: ConnectionStore,
        accept_connection_tokens: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._keys = keys
        self._verifier = verifier
        self._token_prefix = token_prefix
        self._hmac_secrets = hmac_secrets
        self._nonces = nonces
        self._connections = connections
        self._accept_connection_tokens = accept_connection_tokens
        self._clock = clock

    def authenticate(self, request: PresentedRequest) -> Authenticated:
        """The verified, admitted key, and the connection when the request names one (DESIGN §4).

        A connection token's shape is checked before anything is read; its connection once the key is admitted.
        """
        connection_token = header(request.headers, CONNECTION_TOKEN_HEADER)
        if connection_token is None:
            return self._authenticate_key(request)
        connection_id = self._claimed_connection_id(connection_token)
        caller = self._authenticate_key(request)
        return replace(caller, connection_id=self.verify_connection(connection_id, connection_token, caller.key))

    def _claimed_connection_id(self, token: str) -> str:
        if not self._accept_connection_tokens:
            # A cached answer is keyed on the API key and IP only: it would carry this connection to other requests.
            raise Unauthenticated("connection_token_while_authorizer_caches")
        try:
            return connection_id_of(token)
        except MalformedConnectionTokenError as error:
            raise Unauthenticated("malformed_connection_token") from error

    def verify_connection(self, connection_id: str, token: str, key: ApiKey) -> str:
        """`connection_id` if `token` is its token and it is a connection of the key's org: one read."""
        connection = self._connections.get(connection_id)
        if connection is None:
            raise Unauthenticated("unknown_connection")
        if connection.org_id != key.org_id:
            raise Unauthenticated("connection_of_another_org")
        if not connection.token_matches(token):
            raise Unauthenticated("wrong_connection_token")
        return connection.connection_id

    def _authenticate_key(self, request: PresentedRequest) -> Authenticated:
        by_name = {name.lower(): value for name, value in (request.headers or {}).items()}
        signed = {name: by_name.get(name.lower()) for name in signing.SIGNING_HEADERS}
        authorization = by_name.get("authorization")
        if any(request.repeats(name) for name in (AUTHORIZATION_HEADER, *signing.SIGNING_HEADERS)):
            raise Unauthenticated("repeated_credential_header")
        if any(signed.values()):
            if authorization:
                raise Unauthenticated("both_bearer_and_hmac_credentials")
            return self.verify_hmac(request, signed)
        if not authorization:
            return Authenticated(self.verify_session(request))
        bearer = BEARER_CREDENTIALS.fullmatch(authorization)
        if bearer is None:
            raise Unauthenticated("malformed_authorization_header")
        return Authenticated(self.verify_bearer(bearer.group(1), request.source_ip))

    def verify_session(self, request: PresentedRequest) -> ApiKey:
        """A console request: the session cookie, with the console's header; nothing else presented."""
        if request.repeats(COOKIE_HEADER) or request.repeats(CONSOLE_HEADER):
            raise Unauthenticated("repeated_credential_header")
        sessions = session_cookies(header(request.headers, COOKIE_HEADER))
        if not sessions:
            raise Unauthenticated("missing_credentials")
        if header(request.headers, CONSOLE_HEADER) != "1":
            raise Unauthenticated("session_without_console_header")
        if len(sessions) > 1:
            raise Unauthenticated("repeated_session_cookie")
        return self.verify_bearer(sessions[0], request.source_ip, session=True)

    def verify_bearer(self, token_text: str, source_ip: str, *, session: bool = False) -> ApiKey:
        """A key's token, or with `session` a console session's (each is refused where the other belongs)."""
        try:
            token = parse_token(token_text, self._token_prefix)
        except MalformedTokenError as error:
            raise Unauthenticated("malformed_token") from error
        key = self._keys.get(token.key_id)
        now = self._clock()
        if key is None:
            raise Unauthenticated("unknown_key")
        if key.is_session != session:
            raise Unauthenticated("session_as_bearer" if key.is_session else "api_key_as_session")
        if key.auth_mode != "bearer":
            raise Unauthenticated("key_requires_hmac")
        if not any(self._verifier.verify(h, token.secret) for h in key.secret_hashes_accepted(now)):
            raise Unauthenticated("wrong_secret")
        return self._admit(key, now, source_ip)

    def verify_hmac(self, request: PresentedRequest, signed_headers: Mapping[str, str | None]) -> Authenticated:
        """Check a signed request (DESIGN §4): shape and clock before any read, then signature, then nonce."""
        try:
            signed = signing.parse_signed_headers(signed_headers)
        except signing.MalformedSignatureError as error:
            raise Unauthenticated("malformed_signature_headers") from error
        if not is_key_id(signed.key_id):
            raise Unauthenticated("malformed_key_id")
        now = self._clock()
        if abs(now.timestamp() - signed.unix_time) > signing.CLOCK_WINDOW_SECONDS:
            raise Unauthenticated("stale_timestamp")
        key = self._keys.get(signed.key_id)
        if key is None:
            raise Unauthenticated("unknown_key")
        if key.auth_mode != "hmac":
            raise Unauthenticated("key_requires_bearer")
        text = signing.string_to_sign(
            timestamp=signed.timestamp,
            nonce=signed.nonce,
            method=request.method,
            path=signing.canonical_path(request.path),
            query=signing.canonical_query(request.query),
            body_sha256=signed.content_sha256,
        )
        # Every accepted token is compared, so the time taken does not say which one matched.
        matches = [
            signing.signatures_match(signing.signature(token, text), signed.signature)
            for token in self._hmac_secrets.tokens_accepted(key, now)
        ]
        if not any(matches):
            raise Unauthenticated("wrong_signature")
        # Kept until the timestamp leaves the window; after that the clock check refuses a replay.
        keep_until = signed.unix_time + signing.CLOCK_WINDOW_SECONDS + 1
        if not self._nonces.accept_once(key.key_id, signed.nonce, keep_until):
            raise Unauthenticated("replayed_nonce")
        return Authenticated(self._admit(key, now, request.source_ip), content_sha256=signed.content_sha256)

    def _admit(self, key: ApiKey, now: datetime, source_ip: str) -> ApiKey:
        """The checks every verified key passes last: status, IP allowlist; then note the use."""
        status = key.status(now)
        if status != "active":
            raise Unauthenticated(f"key_{status}")
        if not key.allows_ip(source_ip):
            raise AccessDenied("ip_not_allowed", key)
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            self._keys.note_use(key.key_id, now)
        return key
