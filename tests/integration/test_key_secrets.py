"""HMAC and recoverable keys keep their token sealed with KMS: what rests in the table, reveal, rotation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gatekey.domain.errors import ConflictError, InvalidRequestError, StorageUnavailableError
from gatekey.domain.key_lifecycle import Caller, KeyChanges, KeyLifecycle, NewKey
from gatekey.storage import aws
from gatekey.storage.sealing import KmsSecretVault
from gatekey.storage.tables import KEYS_TABLE


def stored_item(key_id: str) -> dict[str, Any]:
    item: dict[str, Any] = aws.dynamodb_resource().Table(KEYS_TABLE.name()).get_item(Key={"key_id": key_id})["Item"]
    return item


@pytest.mark.parametrize("new_key", [NewKey(label="signer", auth_mode="hmac"), NewKey(label="r", recoverable=True)])
def test_the_token_rests_only_sealed_and_reveal_returns_it(
    lifecycle: KeyLifecycle, admin: Caller, new_key: NewKey
) -> None:
    key, token = lifecycle.create(admin, new_key)
    item = stored_item(key.key_id)
    assert token.value not in json.dumps(item, default=str)
    assert token.secret not in json.dumps(item, default=str)
    assert item["sealed_secret"]
    _, revealed = lifecycle.reveal(admin, key.key_id)
    assert revealed == token.value


def test_a_plain_bearer_key_cannot_be_revealed(lifecycle: KeyLifecycle, admin: Caller) -> None:
    key, _ = lifecycle.create(admin, NewKey(label="plain"))
    assert "sealed_secret" not in stored_item(key.key_id)
    with pytest.raises(ConflictError) as raised:
        lifecycle.reveal(admin, key.key_id)
    assert raised.value.code == "key_not_revealable"


def test_a_revoked_key_cannot_be_revealed(lifecycle: KeyLifecycle, admin: Caller) -> None:
    key, _ = lifecycle.create(admin, NewKey(label="signer", auth_mode="hmac"))
    lifecycle.revoke(admin, key.key_id)
    with pytest.raises(ConflictError) as raised:
        lifecycle.reveal(admin, key.key_id)
    assert raised.value.code == "key_revoked"


def test_the_sealed_token_is_bound_to_its_key_and_org(lifecycle: KeyLifecycle, admin: Caller) -> None:
    key, token = lifecycle.create(admin, NewKey(label="signer", auth_mode="hmac"))
    sealed = stored_item(key.key_id)["sealed_secret"]
    vault = KmsSecretVault()
    assert vault.unseal(sealed, key.key_id, admin.org_id) == token.value
    with pytest.raises(StorageUnavailableError):
        vault.unseal(sealed, key.key_id, "org_someoneelse000000000")
    with pytest.raises(StorageUnavailableError):
        vault.unseal(sealed, "key_another0000000000000000", admin.org_id)


def test_rotating_an_hmac_key_reveals_the_new_token_and_keeps_the_old_sealed_for_the_grace(
    lifecycle: KeyLifecycle, admin: Caller
) -> None:
    key, first = lifecycle.create(admin, NewKey(label="signer", auth_mode="hmac"))
    rotated, second = lifecycle.rotate(admin, key.key_id, grace_period_seconds=600)
    assert rotated.key_id == key.key_id
    assert rotated.secret_version == key.secret_version + 1
    assert lifecycle.reveal(admin, key.key_id)[1] == second.value
    item = stored_item(key.key_id)
    assert KmsSecretVault().unseal(item["previous_sealed_secret"], key.key_id, admin.org_id) == first.value
    assert first.value not in json.dumps(item, default=str)
    lifecycle.rotate(admin, key.key_id, grace_period_seconds=0)
    assert "previous_sealed_secret" not in stored_item(key.key_id)


def test_an_edit_racing_a_rotation_does_not_restore_the_old_secret(lifecycle: KeyLifecycle, admin: Caller) -> None:
    key, _ = lifecycle.create(admin, NewKey(label="signer", auth_mode="hmac"))
    stale = lifecycle.get(admin, key.key_id)
    _, new_token = lifecycle.rotate(admin, key.key_id, grace_period_seconds=0)
    with pytest.raises(ConflictError) as raised:
        lifecycle._keys.save(stale, read_secret_version=stale.secret_version)
    assert raised.value.code == "key_changed"
    assert lifecycle.reveal(admin, key.key_id)[1] == new_token.value
    lifecycle.update(admin, key.key_id, KeyChanges(label="renamed"))
    assert lifecycle.reveal(admin, key.key_id)[1] == new_token.value


def test_a_kms_failure_while_creating_is_unavailable_and_creates_nothing(
    lifecycle: KeyLifecycle, admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = lifecycle.list(admin, key_filter=_no_filter(), limit=200, after=None).keys

    def failing(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "KMSInternalException", "Message": "down"}}, "Encrypt")

    monkeypatch.setattr(aws.kms_client(), "encrypt", failing)
    with pytest.raises(StorageUnavailableError):
        lifecycle.create(admin, NewKey(label="signer", auth_mode="hmac"))
    assert lifecycle.list(admin, key_filter=_no_filter(), limit=200, after=None).keys == before


def test_hmac_keys_are_refused_where_authorizer_results_are_cached(lifecycle: KeyLifecycle, admin: Caller) -> None:
    cached = KeyLifecycle(
        lifecycle._keys,
        lifecycle._verifier,
        "gk_test",
        KmsSecretVault(),
        directory=lifecycle._directory,
        events=lifecycle._events,
        catalog=lifecycle._catalog,
        hmac_enabled=False,
    )
    with pytest.raises(InvalidRequestError) as raised:
        cached.create(admin, NewKey(label="signer", auth_mode="hmac"))
    assert raised.value.code == "hmac_unavailable"
    cached.create(admin, NewKey(label="bearer"))


def _no_filter() -> Any:
    from gatekey.domain.api_keys import KeyFilter

    return KeyFilter()
