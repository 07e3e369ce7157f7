"""Typed client for Gatekey's management API (DESIGN §7), over httpx."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, Protocol, TypedDict, TypeVar, Unpack
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel

from gatekey.api.models import (
    ConnectionListOut,
    ConnectionOut,
    ConnectionWithTokenOut,
    KeyListOut,
    KeyOut,
    KeyWithSecretOut,
    LevelName,
    MeOut,
    OrgListOut,
    OrgOut,
    UserListOut,
    UserOut,
)
from gatekey.domain.authentication import CONNECTION_TOKEN_HEADER
from gatekey.domain.clock import to_iso
from gatekey.domain.directory import Role
from gatekey.settings import API_VERSION

KeyType = Literal["main", "personal", "partner"]
KeyStatus = Literal["active", "revoked", "expired"]
AuthMode = Literal["bearer", "hmac"]
Model = TypeVar("Model", bound=BaseModel)
Item_co = TypeVar("Item_co", covariant=True)


class Page(Protocol[Item_co]):
    """What every list answer has: a page of items and the cursor of the next page (None after the last)."""

    @property
    def data(self) -> Sequence[Item_co]: ...

    @property
    def next_cursor(self) -> str | None: ...


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


def _path(*segments: str) -> str:
    # Each segment is encoded whole, so an id holding `/` or `..` cannot reach another route.
    return "/v1/" + "/".join(quote(segment, safe="") for segment in segments)


def _with_query(path: str, parameters: Mapping[str, str | int | None]) -> str:
    # Spaces go out as %20: to Gatekey (DESIGN §4) a `+` is a literal plus, so httpx's `params=` won't do.
    given = {name: value for name, value in parameters.items() if value is not None}
    return f"{path}?{urlencode(given, quote_via=quote)}" if given else path


def _every_item(page_after: Callable[[str | None], Page[Item_co]]) -> Iterator[Item_co]:
    """The items of the first page, then of each page its `next_cursor` leads to."""
    cursor: str | None = None
    while True:
        page = page_after(cursor)
        yield from page.data
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _key_settings(
    *,
    label: str,
    permissions: Mapping[str, LevelName] | None,
    auth_mode: AuthMode,
    expires_at: datetime | None,
    ip_allowlist: Sequence[str] | None,
    recoverable: bool,
    rotation: Mapping[str, int] | None,
) -> dict[str, Any]:
    """The body fields of any new key; those left as None are not sent, so the API's defaults apply."""
    body: dict[str, Any] = {"label": label, "auth_mode": auth_mode, "recoverable": recoverable}
    optional = {
        "permissions": permissions,
        "expires_at": expires_at,
        "ip_allowlist": ip_allowlist,
        "rotation": rotation,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


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

    def me(self, *, connection_token: str | None = None) -> MeOut:
        """Who the key is: `{key, org, user, connection}`; `connection` is the one `connection_token` opens."""
        headers = {CONNECTION_TOKEN_HEADER: connection_token} if connection_token is not None else {}
        return self._call(MeOut, "GET", "/v1/me", headers=headers)

    def create_key(
        self,
        *,
        label: str,
        permissions: Mapping[str, LevelName] | None = None,
        auth_mode: AuthMode = "bearer",
        type: Literal["main", "personal"] = "main",
        user_id: str | None = None,
        expires_at: datetime | None = None,
        ip_allowlist: Sequence[str] | None = None,
        recoverable: bool = False,
        rotation: Mapping[str, int] | None = None,
        idempotency_key: str | None = None,
    ) -> KeyWithSecretOut:
        """A new key; its `secret` (the token) is in this answer, and later only through rotate or reveal."""
        body = _key_settings(
            label=label,
            permissions=permissions,
            auth_mode=auth_mode,
            expires_at=expires_at,
            ip_allowlist=ip_allowlist,
            recoverable=recoverable,
            rotation=rotation,
        )
        body["type"] = type
        if user_id is not None:
            body["user_id"] = user_id
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
        return _every_item(lambda cursor: self.list_keys(**filters, cursor=cursor))

    def get_key(self, key_id: str) -> KeyOut:
        return self._call(KeyOut, "GET", _path("keys", key_id))

    def update_key(self, key_id: str, **changes: Unpack[KeyChanges]) -> KeyOut:
        """Change only the fields given; `expires_at=None` or `rotation=None` remove them."""
        return self._call(KeyOut, "PATCH", _path("keys", key_id), body=dict(changes))

    def revoke_key(self, key_id: str) -> KeyOut:
        """Revoke the key: its token stops working at once."""
        return self._call(KeyOut, "DELETE", _path("keys", key_id))

    def rotate_key(
        self, key_id: str, *, grace_period_seconds: int = 0, idempotency_key: str | None = None
    ) -> KeyWithSecretOut:
        """A new secret for the same key id; the old one keeps working for `grace_period_seconds`."""
        body = {"grace_period_seconds": grace_period_seconds}
        return self._call(
            KeyWithSecretOut, "POST", _path("keys", key_id, "rotate"), body=body, idempotency_key=idempotency_key
        )

    def reveal_key(self, key_id: str) -> KeyWithSecretOut:
        """The token of a recoverable or HMAC key again (409 `GatekeyApiError` for any other key)."""
        return self._call(KeyWithSecretOut, "POST", _path("keys", key_id, "reveal"))

    def create_user(
        self, *, email: str, name: str, role: Role = "member", idempotency_key: str | None = None
    ) -> UserOut:
        """A new user of the key's organisation (409 `GatekeyApiError` if one has this email)."""
        body = {"email": email, "name": name, "role": role}
        return self._call(UserOut, "POST", "/v1/users", body=body, idempotency_key=idempotency_key)

    def list_users(self, *, limit: int | None = None, cursor: str | None = None) -> UserListOut:
        """One page of the organisation's users; pass its `next_cursor` back as `cursor` for the next page."""
        return self._call(UserListOut, "GET", _with_query("/v1/users", {"limit": limit, "cursor": cursor}))

    def iter_users(self, *, limit: int | None = None) -> Iterator[UserOut]:
        """Every user of the organisation, page after page; `limit` is the page size."""
        return _every_item(lambda cursor: self.list_users(limit=limit, cursor=cursor))

    def get_user(self, user_id: str) -> UserOut:
        return self._call(UserOut, "GET", _path("users", user_id))

    def delete_user(self, user_id: str) -> UserOut:
        """Delete the user; their personal keys are revoked and deleted, their tokens stop working at once."""
        return self._call(UserOut, "DELETE", _path("users", user_id))

    def create_connection(
        self, *, provider_slug: str, end_user_id: str, idempotency_key: str | None = None
    ) -> ConnectionWithTokenOut:
        """A new connection; its `connection_token` is in this answer only, to send with calls for the end-user."""
        body = {"provider_slug": provider_slug, "end_user_id": end_user_id}
        return self._call(ConnectionWithTokenOut, "POST", "/v1/connections", body=body, idempotency_key=idempotency_key)

    def list_connections(self, *, limit: int | None = None, cursor: str | None = None) -> ConnectionListOut:
        """One page of connections, newest first; pass its `next_cursor` back as `cursor` for the next page."""
        return self._call(ConnectionListOut, "GET", _with_query("/v1/connections", {"limit": limit, "cursor": cursor}))

    def iter_connections(self, *, limit: int | None = None) -> Iterator[ConnectionOut]:
        """Every connection of the organisation, page after page; `limit` is the page size."""
        return _every_item(lambda cursor: self.list_connections(limit=limit, cursor=cursor))

    def get_connection(self, connection_id: str) -> ConnectionOut:
        """The connection, never its token."""
        return self._call(ConnectionOut, "GET", _path("connections", connection_id))

    def delete_connection(self, connection_id: str) -> ConnectionOut:
        """Delete the connection: its token stops working at once."""
        return self._call(ConnectionOut, "DELETE", _path("connections", connection_id))

    def create_org(self, *, name: str, key_limit: int | None = None, idempotency_key: str | None = None) -> OrgOut:
        """A new customer organisation (partner keys); without `key_limit`, the API's default applies."""
        body: dict[str, Any] = {"name": name}
        if key_limit is not None:
            body["key_limit"] = key_limit
        return self._call(OrgOut, "POST", "/v1/orgs", body=body, idempotency_key=idempotency_key)

    def list_orgs(self, *, limit: int | None = None, cursor: str | None = None) -> OrgListOut:
        """One page of the orgs this partner created, newest first; pass its `next_cursor` back as `cursor`."""
        return self._call(OrgListOut, "GET", _with_query("/v1/orgs", {"limit": limit, "cursor": cursor}))

    def iter_orgs(self, *, limit: int | None = None) -> Iterator[OrgOut]:
        """Every org this partner created, page after page; `limit` is the page size."""
        return _every_item(lambda cursor: self.list_orgs(limit=limit, cursor=cursor))

    def get_org(self, org_id: str) -> OrgOut:
        return self._call(OrgOut, "GET", _path("orgs", org_id))

    def delete_org(self, org_id: str) -> OrgOut:
        """Delete the customer organisation with its users and keys; their tokens stop working at once."""
        return self._call(OrgOut, "DELETE", _path("orgs", org_id))

    def create_org_user(
        self, org_id: str, *, email: str, name: str, role: Role = "member", idempotency_key: str | None = None
    ) -> UserOut:
        """A new user of one of this partner's organisations."""
        body = {"email": email, "name": name, "role": role}
        return self._call(UserOut, "POST", _path("orgs", org_id, "users"), body=body, idempotency_key=idempotency_key)

    def create_org_user_key(
        self,
        org_id: str,
        user_id: str,
        *,
        label: str,
        permissions: Mapping[str, LevelName] | None = None,
        auth_mode: AuthMode = "bearer",
        expires_at: datetime | None = None,
        ip_allowlist: Sequence[str] | None = None,
        recoverable: bool = False,
        rotation: Mapping[str, int] | None = None,
        idempotency_key: str | None = None,
    ) -> KeyWithSecretOut:
        """A personal key for a user of one of this partner's organisations; its `secret` is in this answer."""
        body = _key_settings(
            label=label,
            permissions=permissions,
            auth_mode=auth_mode,
            expires_at=expires_at,
            ip_allowlist=ip_allowlist,
            recoverable=recoverable,
            rotation=rotation,
        )
        path = _path("orgs", org_id, "users", user_id, "keys")
        return self._call(KeyWithSecretOut, "POST", path, body=body, idempotency_key=idempotency_key)

    def _call(
        self,
        model: type[Model],
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Model:
        request_headers = dict(headers or {})
        if idempotency_key:
            request_headers["Idempotency-Key"] = idempotency_key
        json_body = _json_value(body) if body is not None else None
        response = self._http.request(method, url, json=json_body, headers=request_headers)
        if not response.is_success:
            raise GatekeyApiError.of(response)
        return model.model_validate_json(response.content)
