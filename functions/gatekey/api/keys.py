"""`/v1/keys`: create, list, read, edit, revoke, rotate and reveal API keys."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from gatekey.api.models import (
    CreateKeyIn,
    KeyListOut,
    KeyOut,
    KeyWithSecretOut,
    RotateKeyIn,
    UpdateKeyIn,
    parse_permissions,
)
from gatekey.api.pagination import Cursor, Limit, decode_cursor, encode_cursor
from gatekey.api.services import current_caller, key_lifecycle
from gatekey.domain.api_keys import ApiKey, KeyFilter
from gatekey.domain.clock import utc_now
from gatekey.domain.key_lifecycle import KeyChanges

router = Router()
KeyId = Annotated[str, Path(description="The key's id, `key_…`")]


def with_secret(key: ApiKey, token: str) -> KeyWithSecretOut:
    return KeyWithSecretOut(**KeyOut.of(key, utc_now()).model_dump(), secret=token)


@router.post(
    "/keys",
    summary="Create an API key",
    responses={
        201: {"description": "Created; `secret` is the token, shown only here"},
        404: {"description": "`user_id` names no user of this organisation"},
        409: {"description": "The organisation has as many keys as its limit allows"},
    },
)
def create_key(body: Annotated[CreateKeyIn, Body()]) -> tuple[KeyWithSecretOut, int]:
    request = body.to_new_key(type=body.type, user_id=body.user_id)
    key, token = key_lifecycle().create(current_caller(router), request)
    return with_secret(key, token.value), 201


@router.get("/keys", summary="List the organisation's API keys, newest first")
def list_keys(
    type: Annotated[Literal["main", "personal", "partner"] | None, Query()] = None,
    status: Annotated[Literal["active", "revoked", "expired"] | None, Query()] = None,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> KeyListOut:
    caller = current_caller(router)
    page = key_lifecycle().list(
        caller,
        KeyFilter(type=type, status=status, user_id=user_id),
        limit,
        decode_cursor(caller.org_id, "keys", cursor),
    )
    now = utc_now()
    return KeyListOut(
        data=[KeyOut.of(key, now) for key in page.keys], next_cursor=encode_cursor(caller.org_id, "keys", page.after)
    )


@router.get("/keys/<key_id>", summary="Read one API key")
def get_key(key_id: KeyId) -> KeyOut:
    return KeyOut.of(key_lifecycle().get(current_caller(router), key_id), utc_now())


@router.patch(
    "/keys/<key_id>",
    summary="Edit an API key's label, permissions, expiry, allowlist or rotation",
    responses={
        200: {"description": "The key as edited"},
        409: {"description": "The key is revoked or expired, was rotated meanwhile, or cannot have a rotation"},
    },
)
def update_key(key_id: KeyId, body: Annotated[UpdateKeyIn, Body()]) -> KeyOut:
    given = body.model_fields_set
    changes = KeyChanges(
        label=body.label,
        permissions=parse_permissions(body.permissions) if body.permissions is not None else None,
        expires_at=body.expires_at,
        clear_expires_at="expires_at" in given and body.expires_at is None,
        ip_allowlist=tuple(body.ip_allowlist) if body.ip_allowlist is not None else None,
        rotation=body.rotation.to_policy() if body.rotation else None,
        clear_rotation="rotation" in given and body.rotation is None,
    )
    return KeyOut.of(key_lifecycle().update(current_caller(router), key_id, changes), utc_now())


@router.delete("/keys/<key_id>", summary="Revoke an API key; its token stops working at once")
def revoke_key(key_id: KeyId) -> KeyOut:
    return KeyOut.of(key_lifecycle().revoke(current_caller(router), key_id), utc_now())


@router.post("/keys/<key_id>/rotate", summary="Give the key a new secret, keeping its id")
def rotate_key(key_id: KeyId, body: Annotated[RotateKeyIn | None, Body()] = None) -> KeyWithSecretOut:
    grace = body.grace_period_seconds if body else 0
    key, token = key_lifecycle().rotate(current_caller(router), key_id, grace)
    return with_secret(key, token.value)


@router.post(
    "/keys/<key_id>/reveal",
    summary="Show the token of an HMAC or recoverable key again",
    responses={
        200: {"description": "The key, with its token as `secret`"},
        409: {"description": "The key is neither HMAC nor recoverable, or not active"},
    },
)
def reveal_key(key_id: KeyId) -> KeyWithSecretOut:
    key, token = key_lifecycle().reveal(current_caller(router), key_id)
    return with_secret(key, token)
