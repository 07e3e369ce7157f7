"""Key storage and lifecycle against moto's DynamoDB server: limits, tenancy, pagination, revocation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from gatekey.domain.api_keys import KeyFilter
from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Organisation, User
from gatekey.domain.errors import ForbiddenError, InvalidRequestError, KeyLimitReachedError, NotFoundError
from gatekey.domain.hashing import PEPPERED_PREFIX
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.domain.permissions import Level
from gatekey.storage.directory_repository import DirectoryRepository
from gatekey.storage.keys_repository import KeysRepository
from gatekey.storage.sealing import KmsSecretVault


def test_created_key_is_stored_hashed_and_readable(
    lifecycle: KeyLifecycle, keys_repository: KeysRepository, admin: Caller
) -> None:
    key, token = lifecycle.create(admin, NewKey(label="ci", permissions={"products": Level.READ}))
    stored = keys_repository.get(key.key_id)
    assert stored is not None
    assert stored.org_id == admin.org_id
    assert stored.permissions == {"products": Level.READ}
    assert stored.secret_hash.startswith(PEPPERED_PREFIX + "$argon2id$")
    assert token.secret not in stored.secret_hash


def test_limit_holds_under_concurrent_creates_counting_personal_keys(
    lifecycle: KeyLifecycle, directory: DirectoryRepository, admin: Caller, org: Organisation
) -> None:
    member = User(new_id("usr"), org.org_id, "m@acme.example", "Member", "member", utc_now())
    directory.create_user(member)

    def create(number: int) -> str:
        # Every other request makes a personal key: they count against the same limit, in the same transaction.
        request = (
            NewKey(label=f"k{number}", type="personal", user_id=member.user_id)
            if number % 2
            else NewKey(label=f"k{number}")
        )
        try:
            lifecycle.create(admin, request)
            return "created"
        except KeyLimitReachedError:
            return "limit"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(create, range(40)))
    assert outcomes.count("created") == 25
    assert outcomes.count("limit") == 15
    keys = lifecycle.list(admin, KeyFilter(), limit=200, after=None).keys
    assert len(keys) == 25
    assert {key.type for key in keys} == {"main", "personal"}
    with pytest.raises(KeyLimitReachedError):  # a personal key alone is refused too once the org is full
        lifecycle.create(admin, NewKey(label="one more", type="personal", user_id=member.user_id))


def test_a_key_for_a_user_being_deleted_is_refused(
    lifecycle: KeyLifecycle, directory: DirectoryRepository, admin: Caller, org: Organisation
) -> None:
    """The user's deletion marks them first, so a key created meanwhile cannot outlive the cascade."""
    member = User(new_id("usr"), org.org_id, "gone@acme.example", "Leaving", "member", utc_now())
    directory.create_user(member)
    directory.mark_user_deleted(member, utc_now())
    with pytest.raises(NotFoundError):
        lifecycle.create(admin, NewKey(label="late", type="personal", user_id=member.user_id))
    assert lifecycle.list(admin, KeyFilter(user_id=member.user_id), limit=10, after=None).keys == []


def test_revoking_frees_a_place_under_the_limit(lifecycle: KeyLifecycle, admin: Caller) -> None:
    keys = [lifecycle.create(admin, NewKey(label=f"k{n}"))[0] for n in range(25)]
    with pytest.raises(KeyLimitReachedError):
        lifecycle.create(admin, NewKey(label="one too many"))
    lifecycle.revoke(admin, keys[0].key_id)
    lifecycle.revoke(admin, keys[0].key_id)  # revoking twice frees one place, not two
    lifecycle.create(admin, NewKey(label="fits again"))
    with pytest.raises(KeyLimitReachedError):
        lifecycle.create(admin, NewKey(label="one too many again"))


def test_another_tenants_key_is_not_found(
    lifecycle: KeyLifecycle, directory: DirectoryRepository, admin: Caller
) -> None:
    key, _ = lifecycle.create(admin, NewKey(label="mine"))
    other_org = Organisation(org_id=new_id("org"), name="Other", key_limit=25, created_at=utc_now())
    directory.create_org(other_org)
    stranger = Caller(
        key_id="key_x", org_id=other_org.org_id, user_id=None, key_type="main", permissions=admin.permissions
    )
    with pytest.raises(NotFoundError):
        lifecycle.get(stranger, key.key_id)
    with pytest.raises(NotFoundError):
        lifecycle.revoke(stranger, key.key_id)
    assert lifecycle.list(stranger, KeyFilter(), limit=50, after=None).keys == []


def test_pages_walk_every_key_newest_first_without_repeats(lifecycle: KeyLifecycle, admin: Caller) -> None:
    created = [lifecycle.create(admin, NewKey(label=f"k{n}"))[0].key_id for n in range(7)]
    seen: list[str] = []
    after = None
    while True:
        page = lifecycle.list(admin, KeyFilter(), limit=3, after=after)
        seen += [key.key_id for key in page.keys]
        after = page.after
        if after is None:
            break
    assert seen == list(reversed(created))


def test_status_filters(lifecycle: KeyLifecycle, admin: Caller, keys_repository: KeysRepository) -> None:
    active, _ = lifecycle.create(admin, NewKey(label="active"))
    revoked, _ = lifecycle.create(admin, NewKey(label="revoked"))
    lifecycle.revoke(admin, revoked.key_id)
    expiring, _ = lifecycle.create(admin, NewKey(label="expired", expires_at=utc_now() + timedelta(seconds=1)))
    later = utc_now() + timedelta(seconds=5)
    clocked = KeyLifecycle(
        keys_repository,
        lifecycle._verifier,
        "gk_test",
        KmsSecretVault(),
        directory=lifecycle._directory,
        events=lifecycle._events,
        catalog=lifecycle._catalog,
        clock=lambda: later,
    )

    def ids(status: str) -> set[str]:
        return {key.key_id for key in clocked.list(admin, KeyFilter(status=status), 50, None).keys}  # type: ignore[arg-type]

    assert ids("active") == {active.key_id}
    assert ids("revoked") == {revoked.key_id}
    assert ids("expired") == {expiring.key_id}


def test_granting_more_than_held_is_forbidden(lifecycle: KeyLifecycle, admin: Caller) -> None:
    reader = Caller(
        key_id="key_r", org_id=admin.org_id, user_id=None, key_type="main", permissions={"keys": Level.WRITE}
    )
    with pytest.raises(ForbiddenError, match="products:read"):
        lifecycle.create(reader, NewKey(label="escalate", permissions={"products": Level.READ}))


def test_expiry_must_be_in_the_future(lifecycle: KeyLifecycle, admin: Caller) -> None:
    with pytest.raises(InvalidRequestError, match="future"):
        lifecycle.create(admin, NewKey(label="late", expires_at=utc_now() - timedelta(minutes=1)))
