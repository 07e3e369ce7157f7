"""Who is calling: turn presented credentials into a usable API key, or say why not (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from gatekey.domain.api_keys import ApiKey
from gatekey.domain.clock import utc_now
from gatekey.domain.hashing import SecretVerifier
from gatekey.domain.tokens import MalformedTokenError, parse_token
from gatekey.storage.keys_repository import KeysRepository

# last_used_at is written at most this often per key, so the warm path stays one read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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


class Authenticator:
    def __init__(
        self,
        keys: KeysRepository,
        verifier: SecretVerifier,
        token_prefix: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._keys = keys
        self._verifier = verifier
        self._token_prefix = token_prefix
        self._clock = clock

    def authenticate(self, headers: Mapping[str, str] | None, source_ip: str) -> ApiKey:
        authorization = header(headers, "Authorization")
        if not authorization:
            raise Unauthenticated("missing_credentials")
        scheme, _, token_text = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token_text:
            raise Unauthenticated("malformed_authorization_header")
        return self.verify_bearer(token_text.strip(), source_ip)

    def verify_bearer(self, token_text: str, source_ip: str) -> ApiKey:
        try:
            token = parse_token(token_text, self._token_prefix)
        except MalformedTokenError as error:
            raise Unauthenticated("malformed_token") from error
        key = self._keys.get(token.key_id)
        now = self._clock()
        if key is None:
            raise Unauthenticated("unknown_key")
        if key.auth_mode != "bearer":
            raise Unauthenticated("key_requires_hmac")
        if not any(self._verifier.verify(h, token.secret) for h in key.secret_hashes_accepted(now)):
            raise Unauthenticated("wrong_secret")
        status = key.status(now)
        if status != "active":
            raise Unauthenticated(f"key_{status}")
        if not key.allows_ip(source_ip):
            raise AccessDenied("ip_not_allowed", key)
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            self._keys.record_use(key.key_id, now)
        return key
