"""What the outside world sees of keys, users and connections: API replies and event payloads show the same."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gatekey.domain.clock import to_iso
from gatekey.domain.permissions import render_permissions

if TYPE_CHECKING:  # the views module is imported by the modules defining these
    from gatekey.domain.api_keys import ApiKey
    from gatekey.domain.connections import Connection
    from gatekey.domain.directory import User


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def key_view(key: ApiKey, now: datetime) -> dict[str, Any]:
    """The key object of DESIGN §7; never its secret."""
    return {
        "id": key.key_id,
        "org_id": key.org_id,
        "type": key.type,
        "user_id": key.user_id,
        "label": key.label,
        "hint": key.hint,
        "auth_mode": key.auth_mode,
        "permissions": render_permissions(key.permissions),
        "status": key.status(now),
        "created_at": to_iso(key.created_at),
        "created_by": key.created_by,
        "last_used_at": _iso(key.last_used_at),
        "expires_at": _iso(key.expires_at),
        "ip_allowlist": list(key.ip_allowlist),
        "recoverable": key.recoverable,
        "rotation": asdict(key.rotation) if key.rotation else None,
        "rotated_at": _iso(key.rotated_at),
        "plan": key.plan,
    }


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.user_id,
        "org_id": user.org_id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "created_at": to_iso(user.created_at),
    }


def connection_view(connection: Connection) -> dict[str, Any]:
    """A connection without its token (the token is shown once, on creation, and in connection.created)."""
    return {
        "id": connection.connection_id,
        "org_id": connection.org_id,
        "provider_slug": connection.provider_slug,
        "end_user_id": connection.end_user_id,
        "created_at": to_iso(connection.created_at),
        "created_by": connection.created_by,
    }
