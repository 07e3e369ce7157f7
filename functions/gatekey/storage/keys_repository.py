"""API keys in the keys table; creation and revocation keep the org's key count in the directory table."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, cast

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import BotoCoreError, ClientError

from gatekey.domain.api_keys import ApiKey, KeyFilter, RotationPolicy
from gatekey.domain.clock import from_iso, to_iso
from gatekey.domain.errors import ConflictError, KeyLimitReachedError, NotFoundError, StorageUnavailableError
from gatekey.domain.ids import mention
from gatekey.domain.permissions import Level, render_permissions
from gatekey.domain.tokens import is_key_id
from gatekey.storage import aws
from gatekey.storage.aws import storage_errors
from gatekey.storage.items import from_typed, to_typed
from gatekey.storage.paging import query_all, query_page
from gatekey.storage.tables import KEYS_TABLE, PURGE_ATTRIBUTE, SCHEDULE_BUCKET, org_item_key, user_item_key

_ORG_INDEX, _SCHEDULE_INDEX = (index.name for index in KEYS_TABLE.indexes)
SESSION_PURGE_DELAY = timedelta(days=1)
logger = logging.getLogger(__name__)


def _optional_iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def key_to_item(key: ApiKey) -> dict[str, Any]:
    item: dict[str, Any] = {
        "key_id": key.key_id,
        "org_id": key.org_id,
        "created_sort": f"{to_iso(key.created_at)}#{key.key_id}",
        "type": key.type,
        "user_id": key.user_id,
        "label": key.label,
        "hint": key.hint,
        "auth_mode": key.auth_mode,
        "permissions": render_permissions(key.permissions),
        "status": _stored_status(key),
        "created_at": to_iso(key.created_at),
        "created_by": key.created_by,
        "expires_at": _optional_iso(key.expires_at),
        "last_used_at": _optional_iso(key.last_used_at),
        "ip_allowlist": key.ip_allowlist,
        "recoverable": key.recoverable,
        "rotation": asdict(key.rotation) if key.rotation else None,
        "rotated_at": _optional_iso(key.rotated_at),
        "secret_hash": key.secret_hash,
        "secret_version": key.secret_version,
        "sealed_secret": key.sealed_secret,
        "previous_secret_hash": key.previous_secret_hash,
        "previous_sealed_secret": key.previous_sealed_secret,
        "previous_secret_valid_until": _optional_iso(key.previous_secret_valid_until),
        "plan": key.plan,
        "expiry_notices_sent": list(key.expiry_notices_sent) or None,
        **_schedule_attributes(key),
        # A console session's item is deleted by DynamoDB's TTL a day after it lapses (reads check expiry anyway).
        PURGE_ATTRIBUTE: int((key.expires_at + SESSION_PURGE_DELAY).timestamp())
        if key.is_session and key.expires_at
        else None,
    }
    return {name: value for name, value in item.items() if value is not None}


def _org_is_live(directory_table: str, org_id: str) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": directory_table,
            "Key": to_typed(org_item_key(org_id)),
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(deleted_at)",
        }
    }


def _stored_status(key: ApiKey) -> str:
    return "revoked" if key.revoked else "expired" if key.marked_expired else "active"


def _schedule_attributes(key: ApiKey) -> dict[str, str | None]:
    """The sparse `by_schedule` index entry: present only while the scheduler has work on the key."""
    due = key.next_scheduled_at()
    return {"schedule_bucket": SCHEDULE_BUCKET if due else None, "next_due_at": _optional_iso(due)}


def key_from_item(item: dict[str, Any]) -> ApiKey:
    def moment(name: str) -> datetime | None:
        return from_iso(item[name]) if item.get(name) else None

    rotation = item.get("rotation")
    return ApiKey(
        key_id=item["key_id"],
        org_id=item["org_id"],
        type=item["type"],
        user_id=item.get("user_id"),
        label=item["label"],
        hint=item["hint"],
        auth_mode=item["auth_mode"],
        permissions={resource: Level.parse(level) for resource, level in item["permissions"].items()},
        revoked=item["status"] == "revoked",
        created_at=from_iso(item["created_at"]),
        created_by=item["created_by"],
        expires_at=moment("expires_at"),
        last_used_at=moment("last_used_at"),
        ip_allowlist=list(item.get("ip_allowlist", [])),
        recoverable=bool(item.get("recoverable", False)),
        rotation=RotationPolicy(**rotation) if rotation else None,
        rotated_at=moment("rotated_at"),
        secret_hash=item["secret_hash"],
        secret_version=int(item.get("secret_version", 1)),
        sealed_secret=item.get("sealed_secret"),
        previous_secret_hash=item.get("previous_secret_hash"),
        previous_sealed_secret=item.get("previous_sealed_secret"),
        previous_secret_valid_until=moment("previous_secret_valid_until"),
        expiry_notices_sent=tuple(int(days) for days in item.get("expiry_notices_sent", [])),
        marked_expired=item["status"] == "expired",
        plan=item.get("plan"),
    )


def _filter_condition(key_filter: KeyFilter, now: datetime) -> ConditionBase | None:
    now_iso = to_iso(now)
    conditions: list[ConditionBase] = [Attr("type").ne("session")]  # console sessions are nobody's API keys
    if key_filter.type:
        conditions.append(Attr("type").eq(key_filter.type))
    if key_filter.user_id:
        conditions.append(Attr("user_id").eq(key_filter.user_id))
    if key_filter.status == "revoked":
        conditions.append(Attr("status").eq("revoked"))
    elif key_filter.status == "expired":
        conditions.append(
            Attr("status").eq("expired") | (Attr("status").eq("active") & Attr("expires_at").lte(now_iso))
        )
    elif key_filter.status == "active":
        conditions.append(
            Attr("status").eq("active") & (Attr("expires_at").not_exists() | Attr("expires_at").gt(now_iso))
        )
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = combined & condition
    return combined


def _same_secret(secret_version: int) -> ConditionBase:
    """The key still has the secret version that was read: no rotation happened since."""
    same: ConditionBase = Attr("secret_version").eq(secret_version)
    if secret_version == 1:  # items written before versions were kept have none
        same = same | Attr("secret_version").not_exists()
    return same


class KeysRepository:
    def __init__(self, keys_table: str, directory_table: str) -> None:
        self._keys_table = keys_table
        self._directory_table = directory_table

    @property
    def _table(self) -> Any:
        return aws.dynamodb_resource().Table(self._keys_table)

    def get(self, key_id: str) -> ApiKey | None:
        """One strongly consistent read, so a revocation or rotation counts from the very next request."""
        response = aws.dynamodb_client().get_item(
            TableName=self._keys_table, Key={"key_id": {"S": key_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return key_from_item(from_typed(item)) if item else None

    def get_in_org(self, org_id: str, key_id: str) -> ApiKey:
        """The key if it belongs to `org_id`; another tenant's key is indistinguishable from a missing one."""
        if not is_key_id(key_id):
            raise NotFoundError("no such key in this organisation")
        with storage_errors():
            key = self.get(key_id)
        if key is None or key.org_id != org_id:
            raise NotFoundError(f"no key '{key_id}' in this organisation")
        return key

    def create(self, key: ApiKey) -> None:
        """Store a new key, atomically counting it against the org's limit of non-revoked keys.

        The org must exist and not be being deleted; a personal key's user likewise, so a key cannot
        outlive a deletion that raced its creation.
        """
        count_it = {
            "Update": {
                "TableName": self._directory_table,
                "Key": to_typed(org_item_key(key.org_id)),
                "UpdateExpression": "SET key_count = if_not_exists(key_count, :zero) + :one",
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(deleted_at) AND "
                "(attribute_not_exists(key_count) OR key_count < key_limit)",
                "ExpressionAttributeValues": to_typed({":zero": 0, ":one": 1}),
            }
        }
        put_it = {
            "Put": {
                "TableName": self._keys_table,
                "Item": to_typed(key_to_item(key)),
                "ConditionExpression": "attribute_not_exists(key_id)",
            }
        }
        # A console session takes no place under the org's limit of API keys; the org must still be live.
        actions: list[dict[str, Any]] = [
            _org_is_live(self._directory_table, key.org_id) if key.is_session else count_it,
            put_it,
        ]
        if key.user_id:
            actions.append(
                {
                    "ConditionCheck": {
                        "TableName": self._directory_table,
                        "Key": to_typed(user_item_key(key.org_id, key.user_id)),
                        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(deleted_at)",
                    }
                }
            )
        try:
            aws.dynamodb_client().transact_write_items(TransactItems=cast(Any, actions))
        except ClientError as error:
            failed = [
                reason.get("Code") == "ConditionalCheckFailed"
                for reason in error.response.get("CancellationReasons", [])
            ]
            if failed[2:3] == [True]:
                raise NotFoundError(f"no {mention('user', key.user_id or '', 'usr')} in this organisation") from error
            if failed[:1] == [True]:
                raise self._org_refusal(key.org_id) from error
            raise StorageUnavailableError("storage is unavailable, try again") from error
        except BotoCoreError as error:
            raise StorageUnavailableError("storage is unavailable, try again") from error

    def _org_refusal(self, org_id: str) -> Exception:
        """Why the org refused a new key: it is gone (or going), or it holds as many keys as it may."""
        with storage_errors():
            org = (
                aws.dynamodb_resource()
                .Table(self._directory_table)
                .get_item(Key=org_item_key(org_id), ConsistentRead=True)
                .get("Item")
            )
        if not org or "deleted_at" in org:
            return NotFoundError(f"no organisation '{org_id}'")
        return KeyLimitReachedError("the organisation has reached its limit of active keys; revoke one first")

    def revoke(self, key: ApiKey, revoked_at: datetime) -> None:
        """Mark the key revoked and free its place under the org's limit, both or neither."""
        mark_revoked = {
            "Update": {
                "TableName": self._keys_table,
                "Key": to_typed({"key_id": key.key_id}),
                # A revoked key has no scheduled work left: it leaves the schedule index.
                "UpdateExpression": "SET #status = :revoked, revoked_at = :at REMOVE schedule_bucket, next_due_at",
                # An expired key still holds its place under the limit: revoking it frees the place.
                "ConditionExpression": "#status IN (:active, :expired)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_typed(
                    {":revoked": "revoked", ":active": "active", ":expired": "expired", ":at": to_iso(revoked_at)}
                ),
            }
        }
        uncount_it = {
            "Update": {
                "TableName": self._directory_table,
                "Key": to_typed(org_item_key(key.org_id)),
                "UpdateExpression": "SET key_count = key_count - :one",
                "ConditionExpression": "key_count > :zero",
                "ExpressionAttributeValues": to_typed({":zero": 0, ":one": 1}),
            }
        }
        actions = [mark_revoked] if key.is_session else [mark_revoked, uncount_it]
        try:
            aws.dynamodb_client().transact_write_items(TransactItems=cast(Any, actions))
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return  # revoked already: revoking is idempotent
            raise StorageUnavailableError("storage is unavailable, try again") from error
        except BotoCoreError as error:
            raise StorageUnavailableError("storage is unavailable, try again") from error

    def save(self, key: ApiKey, read_secret_version: int) -> None:
        """Write an edited or rotated key back, unless it was revoked or rotated since it was read.

        `read_secret_version` is the version the caller read: an edit racing a rotation must not put
        the old secret back, and two racing rotations must not both hand out a token.
        """
        condition = Attr("status").eq("active") & Attr("org_id").eq(key.org_id) & _same_secret(read_secret_version)
        try:
            self._table.put_item(Item=key_to_item(key), ConditionExpression=condition)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConflictError(
                    f"key '{key.key_id}' was revoked or rotated meanwhile; read it again", code="key_changed"
                ) from error
            raise StorageUnavailableError("storage is unavailable, try again") from error
        except BotoCoreError as error:
            raise StorageUnavailableError("storage is unavailable, try again") from error

    def record_use(self, key_id: str, used_at: datetime) -> None:
        """Move `last_used_at` forward to `used_at`, never backwards (log batches may arrive out of order)."""
        try:
            aws.dynamodb_client().update_item(
                TableName=self._keys_table,
                Key={"key_id": {"S": key_id}},
                UpdateExpression="SET last_used_at = :at",
                ConditionExpression="attribute_exists(key_id) AND "
                "(attribute_not_exists(last_used_at) OR last_used_at < :at)",
                ExpressionAttributeValues={":at": {"S": to_iso(used_at)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def due_for_schedule(self, now: datetime) -> Iterator[ApiKey]:
        """Keys whose next scheduled work (rotation, expiry notice, expiry) is due at `now`, from the sparse
        `by_schedule` index: a query, never a scan. The index is eventually consistent: read a key again
        before acting on it."""
        query: dict[str, Any] = {
            "IndexName": _SCHEDULE_INDEX,
            "KeyConditionExpression": Key("schedule_bucket").eq(SCHEDULE_BUCKET) & Key("next_due_at").lte(to_iso(now)),
        }
        return (key_from_item(item) for item in query_all(self._table, query))

    def record_scheduled_change(self, before: ApiKey, after: ApiKey) -> bool:
        """Store what the scheduler did to a key (expiry notices sent, marked expired) unless the key changed
        since `before` was read (revoked, rotated, or given another expiry); False then, nothing written."""
        unchanged_expiry = (
            Attr("expires_at").eq(to_iso(before.expires_at)) if before.expires_at else Attr("expires_at").not_exists()
        )
        condition = Attr("status").eq("active") & _same_secret(before.secret_version) & unchanged_expiry
        values: dict[str, Any] = {":status": _stored_status(after), ":sent": list(after.expiry_notices_sent)}
        update = "SET #status = :status, expiry_notices_sent = :sent"
        due = after.next_scheduled_at()
        if due is None:
            update += " REMOVE schedule_bucket, next_due_at"
        else:
            update += ", schedule_bucket = :bucket, next_due_at = :due"
            values |= {":bucket": SCHEDULE_BUCKET, ":due": to_iso(due)}
        try:
            self._table.update_item(
                Key={"key_id": after.key_id},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StorageUnavailableError("storage is unavailable, try again") from error
        except BotoCoreError as error:
            raise StorageUnavailableError("storage is unavailable, try again") from error
        return True

    def set_plan(self, key: ApiKey, plan: str | None) -> None:
        """A plan of the key's own (DESIGN §13), or none; the authorizer reads it on its one read."""
        update = "SET #plan = :plan" if plan else "REMOVE #plan"
        values = {":plan": plan} if plan else {}
        with storage_errors():
            try:
                self._table.update_item(
                    Key={"key_id": key.key_id},
                    UpdateExpression=update,
                    ConditionExpression=Attr("org_id").eq(key.org_id) & Attr("status").ne("revoked"),
                    ExpressionAttributeNames={"#plan": "plan"},
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    raise NotFoundError("no such key in this organisation, or it is revoked") from error
                raise

    def delete(self, key: ApiKey) -> None:
        """Remove a revoked key for good (its user or org is being deleted); the next request is 401."""
        with storage_errors():
            self._table.delete_item(Key={"key_id": key.key_id}, ConditionExpression=Attr("org_id").eq(key.org_id))

    def all_of_org(self, org_id: str, user_id: str | None = None) -> Iterator[ApiKey]:
        """Every key of the org (of one user, if given), revoked ones included, for a deletion's cascade."""
        query: dict[str, Any] = {"IndexName": _ORG_INDEX, "KeyConditionExpression": Key("org_id").eq(org_id)}
        if user_id:
            query["FilterExpression"] = Attr("user_id").eq(user_id)
        return (key_from_item(item) for item in query_all(self._table, query))

    def note_use(self, key_id: str, used_at: datetime) -> None:
        """Best effort: failing to note when a key was last used must not fail the request it made."""
        try:
            self.record_use(key_id, used_at)
        except (BotoCoreError, ClientError):
            logger.warning("could not record last use", extra={"key_id": key_id}, exc_info=True)

    def list_for_org(
        self,
        org_id: str,
        key_filter: KeyFilter,
        now: datetime,
        limit: int,
        after: dict[str, str] | None,
    ) -> tuple[list[ApiKey], dict[str, str] | None]:
        """Newest first; returns up to `limit` keys and the position to continue from (None at the end)."""
        query: dict[str, Any] = {
            "IndexName": _ORG_INDEX,
            "KeyConditionExpression": Key("org_id").eq(org_id),
            "ScanIndexForward": False,
        }
        condition = _filter_condition(key_filter, now)
        if condition is not None:
            query["FilterExpression"] = condition
        items, more = query_page(self._table, query, limit, after)
        keys = [key_from_item(item) for item in items]
        return keys, _position(keys[-1]) if more else None


def _position(key: ApiKey) -> dict[str, str]:
    return {"key_id": key.key_id, "org_id": key.org_id, "created_sort": f"{to_iso(key.created_at)}#{key.key_id}"}
