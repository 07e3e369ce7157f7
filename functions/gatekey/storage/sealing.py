"""Encrypting secrets with KMS before they rest anywhere; the encryption context binds each to its owner."""

from __future__ import annotations

import base64
import os
import threading

from gatekey.storage import aws
from gatekey.storage.aws import storage_errors

KMS_KEY_ENV_VAR = "GATEKEY_KMS_KEY_ID"
SECRET_MAC_KEY_ENV_VAR = "GATEKEY_SECRET_MAC_KEY_ID"  # noqa: S105 - the variable's name, not a secret


def kms_alias(stage: str) -> str:
    """The alias of a stage's secrets key (KMS accepts it wherever it takes a key id): CDK stack and local runtime."""
    return f"alias/gatekey-{stage}"


def secret_mac_alias(stage: str) -> str:
    """The alias of the stage's HMAC key (KMS GenerateMac) that peppers API-key secrets before they are hashed."""
    return f"alias/gatekey-{stage}-secret-mac"


class KmsPepper:
    """The pepper of API-key secret hashes: KMS's HMAC of a fixed message under the stage's HMAC key.

    Deterministic, so every function computes the same pepper and none stores it; the key never leaves KMS, so a
    table reader cannot check a guess against a stored hash. Asked for once per process, on first use (a cold
    start makes no KMS call it does not need); a KMS failure raises, and the authorizer then denies.
    """

    MESSAGE = b"gatekey: the pepper of API-key secret hashes, version 1"

    def __init__(self) -> None:
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def key(self) -> bytes:
        with self._lock:
            if self._key is None:
                with storage_errors():
                    self._key = aws.kms_client().generate_mac(
                        KeyId=os.environ[SECRET_MAC_KEY_ENV_VAR], Message=self.MESSAGE, MacAlgorithm="HMAC_SHA_256"
                    )["Mac"]
            return self._key


def seal(plaintext: str, context: dict[str, str]) -> str:
    response = aws.kms_client().encrypt(
        KeyId=os.environ[KMS_KEY_ENV_VAR], Plaintext=plaintext.encode(), EncryptionContext=context
    )
    return base64.b64encode(response["CiphertextBlob"]).decode()


def unseal(sealed: str, context: dict[str, str]) -> str:
    """Decrypt; KMS refuses if `context` differs from the one the secret was sealed with."""
    response = aws.kms_client().decrypt(CiphertextBlob=base64.b64decode(sealed), EncryptionContext=context)
    return response["Plaintext"].decode()


def key_secret_context(key_id: str, org_id: str) -> dict[str, str]:
    """A key's token decrypts only for that key of that org (DESIGN §3)."""
    return {"key_id": key_id, "org_id": org_id}


class KmsSecretVault:
    """API key tokens sealed with the stage's KMS key; a KMS failure is a 503, never a silent miss."""

    def seal(self, token: str, key_id: str, org_id: str) -> str:
        with storage_errors():
            return seal(token, key_secret_context(key_id, org_id))

    def unseal(self, sealed: str, key_id: str, org_id: str) -> str:
        with storage_errors():
            return unseal(sealed, key_secret_context(key_id, org_id))


class KmsSealer:
    """Any secret field sealed with the stage's KMS key under a caller-given encryption context."""

    def seal(self, plaintext: str, context: dict[str, str]) -> str:
        with storage_errors():
            return seal(plaintext, context)

    def unseal(self, sealed: str, context: dict[str, str]) -> str:
        with storage_errors():
            return unseal(sealed, context)
