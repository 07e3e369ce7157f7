"""Prefixed, URL-safe random identifiers: `org_…`, `usr_…`, `key_…` and the rest (DESIGN §3)."""

from __future__ import annotations

from gatekey.domain.tokens import BASE62_ALPHABET, KEY_ID_LENGTH, random_base62

_BASE62 = frozenset(BASE62_ALPHABET)


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_base62(KEY_ID_LENGTH)}"


def is_id(text: str, prefix: str) -> bool:
    """Shaped like an id `new_id(prefix)` makes: anything else names nothing, and is not worth a read (a path
    segment of thousands of characters would not even be a valid DynamoDB key)."""
    body = text.removeprefix(f"{prefix}_")
    return len(body) == KEY_ID_LENGTH == len(text) - len(prefix) - 1 and _BASE62.issuperset(body)


def mention(noun: str, text: str, prefix: str) -> str:
    """`user 'usr_…'` for an id-shaped value, `such user` for anything else: an error never echoes what may
    be a token pasted in the wrong place."""
    return f"{noun} '{text}'" if is_id(text, prefix) else f"such {noun}"
