"""The API-key token format (DESIGN §3): `<prefix>_<60 base62 chars>` = key id + secret + CRC32 checksum."""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_ID_LENGTH = 22
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
BODY_LENGTH = KEY_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH
KEY_ID_PREFIX = "key_"
_BASE62_SET = frozenset(BASE62_ALPHABET)


class MalformedTokenError(ValueError):
    """The string is not a Gatekey token of this deployment (shape, prefix or checksum)."""


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62_ALPHABET) for _ in range(length))


def encode_base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62_ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(text: str) -> str:
    """CRC32 of `text` in base62, left-padded to six characters."""
    return encode_base62(zlib.crc32(text.encode()), CHECKSUM_LENGTH)


@dataclass(frozen=True)
class Token:
    prefix: str
    key_id_body: str
    secret: str

    @property
    def key_id(self) -> str:
        return KEY_ID_PREFIX + self.key_id_body

    @property
    def value(self) -> str:
        """The full token string: hand it to the key's owner once, never to a log."""
        unsigned = f"{self.prefix}_{self.key_id_body}{self.secret}"
        return unsigned + checksum(unsigned)

    def __repr__(self) -> str:  # str() and repr() never show the secret
        return f"Token(key_id={self.key_id!r})"


def is_key_id(text: str) -> bool:
    """Shaped like a public key id, `key_` + 22 base62 characters (checked before any storage read)."""
    body = text.removeprefix(KEY_ID_PREFIX)
    return text.startswith(KEY_ID_PREFIX) and len(body) == KEY_ID_LENGTH and _BASE62_SET.issuperset(body)


def new_key_id_body() -> str:
    return random_base62(KEY_ID_LENGTH)


def new_token(prefix: str, key_id: str | None = None) -> Token:
    """A fresh token; pass `key_id` to mint a new secret for an existing key (rotation)."""
    body = key_id.removeprefix(KEY_ID_PREFIX) if key_id else new_key_id_body()
    return Token(prefix=prefix, key_id_body=body, secret=random_base62(SECRET_LENGTH))


def parse_token(text: str, prefix: str) -> Token:
    """Split a token into its parts; raises MalformedTokenError before anything touches storage."""
    expected_head = prefix + "_"
    if not text.startswith(expected_head) or len(text) != len(expected_head) + BODY_LENGTH:
        raise MalformedTokenError("token has the wrong prefix or length")
    body = text[len(expected_head) :]
    if not _BASE62_SET.issuperset(body):
        raise MalformedTokenError("token body is not base62")
    if not secrets.compare_digest(checksum(text[:-CHECKSUM_LENGTH]), body[-CHECKSUM_LENGTH:]):
        raise MalformedTokenError("token checksum does not match")
    return Token(
        prefix=prefix,
        key_id_body=body[:KEY_ID_LENGTH],
        secret=body[KEY_ID_LENGTH : KEY_ID_LENGTH + SECRET_LENGTH],
    )


def display_hint(token: Token) -> str:
    """`<prefix>_` + first 4 and last 4 body characters, e.g. `gk_live_AbCd…9xYz`."""
    body = token.value[len(token.prefix) + 1 :]
    return f"{token.prefix}_{body[:4]}…{body[-4:]}"
