"""argon2id hashing and the warm-path verification cache."""

from unittest import mock

from argon2 import PasswordHasher

from gatekey.domain.hashing import SecretVerifier, password_hasher
from gatekey.settings import STAGES


def fast_verifier() -> SecretVerifier:
    return SecretVerifier(password_hasher(STAGES["local"]))


def test_hashes_are_argon2id_with_the_stage_cost() -> None:
    stored = password_hasher(STAGES["prod"]).hash("s3cret")
    assert stored.startswith("$argon2id$")
    assert "m=65536,t=3,p=1" in stored
    assert "s3cret" not in stored


def test_right_secret_verifies_and_wrong_one_does_not() -> None:
    verifier = fast_verifier()
    stored = verifier.hash("right")
    assert verifier.verify(stored, "right")
    assert not verifier.verify(stored, "wrong")
    assert not verifier.verify("not-a-hash", "right")


def test_second_verification_skips_argon2() -> None:
    verifier = fast_verifier()
    stored = verifier.hash("right")
    with mock.patch.object(PasswordHasher, "verify", autospec=True, side_effect=PasswordHasher.verify) as argon2:
        assert verifier.verify(stored, "right")
        assert verifier.verify(stored, "right")
        assert not verifier.verify(stored, "wrong")  # a cached hash still refuses another secret
    assert argon2.call_count == 1


def test_new_hash_after_rotation_is_verified_afresh() -> None:
    verifier = fast_verifier()
    old = verifier.hash("old")
    assert verifier.verify(old, "old")
    new = verifier.hash("new")
    assert not verifier.verify(new, "old")
    assert verifier.verify(new, "new")
