"""argon2id hashing of peppered key secrets, and the memory that keeps a container from checking one twice."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from gatekey.domain.hashing import PEPPERED_PREFIX, Argon2Cost, SecretVerifier
from gatekey.settings import STAGES


class CountingPepper:
    """A fixed pepper (KMS's role) that counts how often a secret is peppered: once per argon2 run."""

    def __init__(self) -> None:
        self.uses = 0

    def key(self) -> bytes:
        self.uses += 1
        return b"k" * 32


def verifier(pepper: CountingPepper | None = None, **options: int) -> SecretVerifier:
    return SecretVerifier(STAGES["local"].key_secret_argon2, pepper or CountingPepper(), **options)


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_hashes_are_argon2id_of_the_peppered_secret_at_the_stage_cost(stage: str) -> None:
    cost = STAGES[stage].key_secret_argon2
    stored = SecretVerifier(cost, CountingPepper()).hash("s3cret")
    assert stored.startswith(PEPPERED_PREFIX + "$argon2id$")
    assert f"m={cost.memory_kib},t={cost.time_cost},p={cost.parallelism}" in stored
    assert "s3cret" not in stored
    with pytest.raises(VerifyMismatchError):  # a table reader without the pepper cannot check a guess
        PasswordHasher().verify(stored.removeprefix(PEPPERED_PREFIX), "s3cret")


def test_passwords_keep_owasps_cost_where_it_matters() -> None:
    assert STAGES["prod"].password_argon2 == Argon2Cost(time_cost=3, memory_kib=65536)


def test_right_secret_verifies_and_wrong_one_does_not() -> None:
    checker = verifier()
    stored = checker.hash("right")
    assert checker.verify(stored, "right")
    assert not checker.verify(stored, "wrong")
    assert not checker.verify("not-a-hash", "right")


def test_another_pepper_verifies_nothing() -> None:
    stored = verifier().hash("right")

    class OtherPepper:
        def key(self) -> bytes:
            return b"o" * 32

    assert not SecretVerifier(STAGES["local"].key_secret_argon2, OtherPepper()).verify(stored, "right")


def test_a_secret_that_matched_is_not_checked_again_and_settles_others() -> None:
    pepper = CountingPepper()
    checker = verifier(pepper)
    stored = checker.hash("right")
    pepper.uses = 0
    assert checker.verify(stored, "right")
    assert checker.verify(stored, "right")
    assert not checker.verify(stored, "wrong")  # the hash's secret is known: any other is wrong, without argon2
    assert pepper.uses == 1


def test_a_wrong_secret_is_checked_once_however_often_it_comes() -> None:
    pepper = CountingPepper()
    checker = verifier(pepper)
    stored = checker.hash("right")
    pepper.uses = 0
    for _ in range(5):
        assert not checker.verify(stored, "forged")
    assert pepper.uses == 1
    assert not checker.verify(stored, "forged again")
    assert pepper.uses == 2  # another guess is another check: what bounds its cost is argon2's small cost


def test_a_rotated_out_secret_in_its_grace_period_costs_argon2_once() -> None:
    """The client still on the old secret: checked against the current hash (no), then the previous (yes)."""
    pepper = CountingPepper()
    checker = verifier(pepper)
    previous, current = checker.hash("old"), checker.hash("new")
    pepper.uses = 0
    for _ in range(4):
        assert any(checker.verify(stored, "old") for stored in (current, previous))
    assert pepper.uses == 2  # one no for the current hash, one yes for the previous, both remembered


def test_a_new_hash_after_rotation_is_checked_afresh() -> None:
    checker = verifier()
    old = checker.hash("old")
    assert checker.verify(old, "old")
    new = checker.hash("new")
    assert not checker.verify(new, "old")
    assert checker.verify(new, "new")


def test_hashes_from_before_peppering_still_verify() -> None:
    legacy = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("right")
    checker = verifier()
    assert checker.verify(legacy, "right")
    assert not checker.verify(legacy, "wrong")


def test_the_memory_of_wrong_secrets_stays_bounded() -> None:
    pepper = CountingPepper()
    checker = verifier(pepper, max_entries=3)
    stored = checker.hash("right")
    for guess in ("a", "b", "c", "d"):
        checker.verify(stored, guess)
    pepper.uses = 0
    assert not checker.verify(stored, "a")  # the oldest was forgotten: checked again
    assert not checker.verify(stored, "d")  # the newest is remembered
    assert pepper.uses == 1
