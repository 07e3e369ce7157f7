"""Deleting a user or a customer org against moto's DynamoDB: keys go first, and a delete cut short finishes
when repeated (faults injected into the storage calls)."""

from __future__ import annotations

import pytest

from gatekey.api import services
from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Organisation
from gatekey.domain.errors import ForbiddenError, NotFoundError, StorageUnavailableError
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.domain.partners import PartnerOrgs
from gatekey.domain.permissions import Level
from gatekey.domain.users import NewUser, UserAdministration
from gatekey.storage.directory_repository import DirectoryRepository
from gatekey.storage.keys_repository import KeysRepository


@pytest.fixture
def users(storage_endpoint: str) -> UserAdministration:
    return services.user_administration()


@pytest.fixture
def partners(storage_endpoint: str) -> PartnerOrgs:
    return services.partner_orgs()


@pytest.fixture
def partner(org: Organisation) -> Caller:
    return Caller(
        key_id="key_partner", org_id=org.org_id, user_id=None, key_type="partner", permissions={"orgs": Level.WRITE}
    )


def fail_once(monkeypatch: pytest.MonkeyPatch, owner: object, method: str) -> None:
    """The first call of `owner.method` fails as storage would; later ones go through."""
    real = getattr(owner, method)
    failed: list[bool] = []

    def flaky(*args: object, **kwargs: object) -> object:
        if not failed:
            failed.append(True)
            raise StorageUnavailableError("storage is unavailable, try again")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, method, flaky)


def test_a_user_delete_cut_short_leaves_no_usable_key_and_finishes_when_repeated(
    *,
    monkeypatch: pytest.MonkeyPatch,
    users: UserAdministration,
    lifecycle: KeyLifecycle,
    keys_repository: KeysRepository,
    directory: DirectoryRepository,
    admin: Caller,
) -> None:
    leaver = users.create(admin, NewUser(email="leaver@acme.example", name="Leaver"))
    keys = [
        lifecycle.create(admin, NewKey(label=f"k{n}", type="personal", user_id=leaver.user_id))[0] for n in range(3)
    ]

    fail_once(monkeypatch, directory, "delete_user")  # the keys are gone, the user item stays
    with pytest.raises(StorageUnavailableError):
        users.delete(admin, leaver.user_id)
    assert all(keys_repository.get(key.key_id) is None for key in keys)
    with pytest.raises(NotFoundError):  # marked: it reads as gone already, and takes no new key
        users.get(admin, leaver.user_id)
    with pytest.raises(NotFoundError):
        lifecycle.create(admin, NewKey(label="late", type="personal", user_id=leaver.user_id))

    users.delete(admin, leaver.user_id)  # the retry finds the marked user and finishes
    assert directory.get_user(admin.org_id, leaver.user_id, including_deleted=True) is None
    users.create(admin, NewUser(email="leaver@acme.example", name="Back again"))  # the email is free


def test_an_org_delete_cut_short_finishes_when_repeated(
    *,
    monkeypatch: pytest.MonkeyPatch,
    partners: PartnerOrgs,
    keys_repository: KeysRepository,
    directory: DirectoryRepository,
    partner: Caller,
) -> None:
    customer = partners.create_org(partner, "Customer")
    people = [partners.add_user(partner, customer.org_id, NewUser(email=f"u{n}@c.example", name="U")) for n in range(2)]
    keys = [
        partners.mint_user_key(partner, customer.org_id, person.user_id, NewKey(label="k", permissions={}))[0]
        for person in people
    ]

    fail_once(monkeypatch, keys_repository, "delete")  # cut short before the first key is deleted
    with pytest.raises(StorageUnavailableError):
        partners.delete_org(partner, customer.org_id)
    first = keys_repository.get(keys[0].key_id)
    assert first is not None and first.revoked  # revoked, then the delete failed
    with pytest.raises(NotFoundError):  # marked: gone for reads, closed to new users
        partners.get_org(partner, customer.org_id)
    with pytest.raises(NotFoundError):
        partners.add_user(partner, customer.org_id, NewUser(email="late@c.example", name="Late"))

    assert partners.delete_org(partner, customer.org_id).org_id == customer.org_id
    assert all(keys_repository.get(key.key_id) is None for key in keys)
    assert list(directory.all_users(customer.org_id)) == []
    assert directory.get_org(customer.org_id, including_deleted=True) is None
    with pytest.raises(NotFoundError):
        partners.delete_org(partner, customer.org_id)


def test_a_partner_acts_only_on_orgs_its_org_created(
    partners: PartnerOrgs, directory: DirectoryRepository, partner: Caller
) -> None:
    stranger_org = Organisation(org_id=new_id("org"), name="Elsewhere", key_limit=25, created_at=utc_now())
    directory.create_org(stranger_org)
    another_partner = Caller("key_other", stranger_org.org_id, None, "partner", {"orgs": Level.WRITE})
    theirs = partners.create_org(another_partner, "Theirs")
    for org_id in (theirs.org_id, stranger_org.org_id, partner.org_id):
        with pytest.raises(NotFoundError):
            partners.get_org(partner, org_id)
        with pytest.raises(NotFoundError):
            partners.delete_org(partner, org_id)
    assert theirs.org_id not in {org.org_id for org in partners.list_orgs(partner, 200, None)[0]}
    assert directory.get_org(theirs.org_id) is not None


def test_only_partner_keys_manage_orgs(partners: PartnerOrgs, admin: Caller) -> None:
    with pytest.raises(ForbiddenError):
        partners.create_org(admin, "Not a partner's")
    with pytest.raises(ForbiddenError):
        partners.list_orgs(admin, 10, None)
