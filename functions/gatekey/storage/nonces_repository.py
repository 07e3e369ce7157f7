"""HMAC nonces already used: a conditional write accepts each (key, nonce) once."""

from __future__ import annotations

from botocore.exceptions import ClientError

from gatekey.storage import aws
from gatekey.storage.items import to_typed
from gatekey.storage.tables import NONCE_EXPIRY_ATTRIBUTE, nonce_item_key


class NoncesRepository:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    def accept_once(self, key_id: str, nonce: str, keep_until_epoch: int) -> bool:
        """Record the nonce; False if this key used it before. Other storage failures raise."""
        item = {**nonce_item_key(key_id, nonce), NONCE_EXPIRY_ATTRIBUTE: keep_until_epoch}
        try:
            aws.dynamodb_client().put_item(
                TableName=self._table_name,
                Item=to_typed(item),
                ConditionExpression="attribute_not_exists(nonce_id)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
