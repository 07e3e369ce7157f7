"""Prefixed, URL-safe random identifiers: `org_…`, `usr_…`, `key_…` and the rest (DESIGN §3)."""

from __future__ import annotations

from gatekey.domain.tokens import random_base62


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_base62(22)}"
