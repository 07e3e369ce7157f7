"""The token format of DESIGN §3, including its published test vector."""

import zlib

import pytest

from gatekey.domain.tokens import (
    BASE62_ALPHABET,
    MalformedTokenError,
    checksum,
    display_hint,
    new_token,
    parse_token,
)

VECTOR_TOKEN = "gk_test_7QqK3mZ1xR8vT2wY5nB0cDLh4Jf6Gs9Pk2Ve8Nt1Ua3Rc5Xy7Wb0Zq3wsiVa"


def test_design_vector_parses_to_its_key_id_and_checksum() -> None:
    token = parse_token(VECTOR_TOKEN, "gk_test")
    assert token.key_id == "key_7QqK3mZ1xR8vT2wY5nB0cD"
    assert zlib.crc32(VECTOR_TOKEN[:-6].encode()) == 3618466790
    assert checksum(VECTOR_TOKEN[:-6]) == "3wsiVa"
    assert token.value == VECTOR_TOKEN


def test_new_token_has_prefix_and_60_base62_characters() -> None:
    token = new_token("sk_live")
    text = token.value
    assert text.startswith("sk_live_")
    body = text.removeprefix("sk_live_")
    assert len(body) == 60
    assert set(body) <= set(BASE62_ALPHABET)
    assert parse_token(text, "sk_live") == token


def test_rotation_keeps_the_key_id_and_changes_the_secret() -> None:
    first = new_token("gk_test")
    second = new_token("gk_test", key_id=first.key_id)
    assert second.key_id == first.key_id
    assert second.secret != first.secret


@pytest.mark.parametrize(
    "text",
    [
        VECTOR_TOKEN[:-1] + ("b" if VECTOR_TOKEN[-1] != "b" else "c"),  # checksum off by one character
        VECTOR_TOKEN[:20] + ("A" if VECTOR_TOKEN[20] != "A" else "B") + VECTOR_TOKEN[21:],  # body altered
        VECTOR_TOKEN[:-1],  # too short
        VECTOR_TOKEN + "0",  # too long
        VECTOR_TOKEN.replace("gk_test", "gk_live"),  # another deployment's prefix
        VECTOR_TOKEN[:30] + "-" + VECTOR_TOKEN[31:],  # not base62
        "",
    ],
)
def test_malformed_tokens_are_rejected(text: str) -> None:
    with pytest.raises(MalformedTokenError):
        parse_token(text, "gk_test")


def test_hint_shows_prefix_and_four_characters_each_end() -> None:
    assert display_hint(parse_token(VECTOR_TOKEN, "gk_test")) == "gk_test_7QqK…siVa"


def test_secret_never_appears_in_repr_or_str() -> None:
    token = new_token("gk_test")
    assert token.secret not in repr(token)
    assert token.secret not in str(token)
