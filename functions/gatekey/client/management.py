"""Typed client for Gatekey's management API (DESIGN §7), over httpx."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, TypedDict, TypeVar, Unpack
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel

from gatekey.api.models import KeyListOut, KeyOut, KeyWithSecretOut, LevelName, MeOut
from gatekey.domain.clock import to_iso
from gatekey.settings import API_VERSION

KeyType = Literal["main", "personal", "partner"]
KeyStatus = Literal["active", "revoked", "expired"]
Model = TypeVar("Model", bound=BaseModel)


class GatekeyApiError(Exception):
    """A non-2xx answer: `code` is the API's snake_case error code, `message` its human sentence."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message

    @classmethod
    def of(cls, response: httpx.Response) -> GatekeyApiError:
        """Read `{"error": {"code", "message"}}`, or the gateway's `{"message": ...}` (code from the status)."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict) and isinstance(error.get("code"), str):
                return cls(response.status_code, error["code"], str(error.get("message", "")))
            if isinstance(body.get("message"), str):
                return cls(response.status_code, _status_code_name(response.status_code), body["message"])
        message = response.text.strip()[:200] or response.reason_phrase
        return cls(response.status_code, _status_code_name(response.status_code), message)


def _status_code_name(status_code: int) -> str:
    """`unauthorized`, `forbidden`, `too_many_requests`, ... for an answer that names no code itself."""
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        return "http_error"
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")


class KeyFilters(TypedDict, total=False):
    """Filters of `GET /v1/keys`; `limit` is the page size."""

    type: KeyType
    status: KeyStatus
    user_id: str
    limit: int


class KeyChanges(TypedDict, total=False):
    """Fields `PATCH /v1/keys/{key_id}` may change; `expires_at` or `rotation` set to None are removed."""

    label: str
    permissions: Mapping[str, LevelName]
    expires_at: datetime | None
    ip_allowlist: Sequence[str]
    rotation: Mapping[str, int] | None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware, e.g. datetime(2027, 1, 1, tzinfo=UTC)")
    return to_iso(moment)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Mapping):
        return {name: _json_value(item) for name, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_json_value(item) for item in value]
    return value


def _key_path(key_id: str, *action: str) -> str:
    return "/".join(("/v1/keys", quote(key_id, safe=""), *action))


def _with_query(path: str, parameters: Mapping[str, str | int | None]) -> str:
    # Spaces go out as %20: to Gatekey (DESIGN §4) a `+` is a literal plus, so httpx's `params=` won't do.
    given = {name: value for name, value in parameters.items() if value is not None}
    return f"{path}?{urlencode(given, quote_via=quote)}" if given else path


class GatekeyClient:
    """The management API of one Gatekey deployment; `base_url` includes the stage, e.g. `https://…/dev`.

    Every method returns the API's response model or raises `GatekeyApiError` (and httpx's errors for the network).
    """

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        api_version: str = API_VERSION,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            auth=auth,
            headers={"Gatekey-Version": api_version, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> GatekeyClient:
        return self

    def __exit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def me(self) -> MeOut:
        """Who the key is: `{key, org, user, connection}`."""
        return self._call(MeOut, "GET", "/v1/me")

    def create_key(
        self,
        *,
        label: str,
        permissions: Mapping[str, LevelName] | None = None,
        auth_mode: Literal["bearer", "hmac"] = "bearer",
        type: Literal["main", "personal"] = "main",
        user_id: str | None = None,
        expires_at: datetime | None = None,
        ip_allowlist: Sequence[str] | None = None,
        recoverable: bool = False,
        rotation: Mapping[str, int] | None = None,
        idempotency_key: str | None = None,
    ) -> KeyWithSecretOut:
        """A new key; its `secret` (the token) is in this answer, and later only through rotate or reveal."""
        body: dict[str, Any] = {"label": label, "type": type, "auth_mode": auth_mode, "recoverable": recoverable}
        optional = {
            "permissions": permissions,
            "user_id": user_id,
            "expires_at": expires_at,
            "ip_allowlist": ip_allowlist,
            "rotation": rotation,
        }
        body.update({name: value for name, value in optional.items() if value is not None})
        return self._call(KeyWithSecretOut, "POST", "/v1/keys", body=body, idempotency_key=idempotency_key)

    def list_keys(
        self,
        *,
        type: KeyType | None = None,
        status: KeyStatus | None = None,
        user_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> KeyListOut:
        """One page of keys, newest first; pass its `next_cursor` back as `cursor` for the next page."""
        query = {"type": type, "status": status, "user_id": user_id, "limit": limit, "cursor": cursor}
        return self._call(KeyListOut, "GET", _with_query("/v1/keys", query))

    def iter_keys(self, **filters: Unpack[KeyFilters]) -> Iterator[KeyOut]:
        """Every key matching the filters, page after page."""
        cursor: str | None = None
        while True:
            page = self.list_keys(**filters, cursor=cursor)
            yield from page.data
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get_key(self, key_id: str) -> KeyOut:
        return self._call(KeyOut, "GET", _key_path(key_id))

    def update_key(self, key_id: str, **changes: Unpack[KeyChanges]) -> KeyOut:
        """Change only the fields given; `expires_at=None` or `rotation=None` remove them."""
        return self._call(KeyOut, "PATCH", _key_path(key_id), body=dict(changes))

    def revoke_key(self, key_id: str) -> KeyOut:
        """Revoke the key: its token stops working at once."""
        return self._call(KeyOut, "DELETE", _key_path(key_id))

    def rotate_key(
        self, key_id: str, *, grace_period_seconds: int = 0, idempotency_key: str | None = None
    ) -> KeyWithSecretOut:
        """A new secret for the same key id; the old one keeps working for `grace_period_seconds`."""
        body = {"grace_period_seconds": grace_period_seconds}
        return self._call(
            KeyWithSecretOut, "POST", _key_path(key_id, "rotate"), body=body, idempotency_key=idempotency_key
        )

    def reveal_key(self, key_id: str) -> KeyWithSecretOut:
        """The token of a recoverable or HMAC key again (409 `GatekeyApiError` for any other key)."""
        return self._call(KeyWithSecretOut, "POST", _key_path(key_id, "reveal"))

    def _call(
        self,
        model: type[Model],
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Model:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        json_body = _json_value(body) if body is not None else None
        response = self._http.request(method, url, json=json_body, headers=headers)
        if not response.is_success:
            raise GatekeyApiError.of(response)
        return model.model_validate_json(response.content)
