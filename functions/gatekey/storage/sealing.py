"""Encrypting secrets with KMS before they rest anywhere; the encryption context binds each to its owner."""

from __future__ import annotations

import base64
import os

from gatekey.storage import aws

KMS_KEY_ENV_VAR = "GATEKEY_KMS_KEY_ID"


def seal(plaintext: str, context: dict[str, str]) -> str:
    response = aws.kms_client().encrypt(
        KeyId=os.environ[KMS_KEY_ENV_VAR], Plaintext=plaintext.encode(), EncryptionContext=context
    )
    return base64.b64encode(response["CiphertextBlob"]).decode()


def unseal(sealed: str, context: dict[str, str]) -> str:
    """Decrypt; KMS refuses if `context` differs from the one the secret was sealed with."""
    response = aws.kms_client().decrypt(CiphertextBlob=base64.b64decode(sealed), EncryptionContext=context)
    return response["Plaintext"].decode()
