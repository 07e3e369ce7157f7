"""Organisations and users in the directory table (pk `ORG#<org id>`; sk `ORG`, `USER#<user id>`, `EMAIL#<email>`).

An org or user being deleted first gets `deleted_at`: from then on it reads as missing, takes no new keys
or users, and a retried delete finds it again to finish the cascade.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from gatekey.domain.clock import from_iso, to_iso
from gatekey.domain.directory import Organisation, User
from gatekey.domain.errors import ConflictError, NotFoundError
from gatekey.domain.ids import is_id
from gatekey.storage import aws
from gatekey.storage.aws import storage_errors
from gatekey.storage.items import plain, to_typed
from gatekey.storage.paging import position_value, query_all, query_page
from gatekey.storage.tables import (
    BOOTSTRAP_ITEM_KEY,
    DIRECTORY_TABLE,
    PURGE_ATTRIBUTE,
    USER_SORT_PREFIX,
    org_item_key,
    quota_notice_item_key,
    sign_in_failures_item_key,
    user_email_item_key,
    user_item_key,
)

_PARTNER_INDEX = DIRECTORY_TABLE.indexes[0].name
# The org or user exists and is not being deleted.
_LIVE = "attribute_exists(pk) AND attribute_not_exists(deleted_at)"


def _org_from_item(values: dict[str, Any]) -> Organisation:
    return Organisation(
        org_id=values["org_id"],
        name=values["name"],
        key_limit=values["key_limit"],
        created_at=from_iso(values["created_at"]),
        partner_id=values.get("partner_id"),
        plan=values.get("plan"),
    )


def _user_from_item(values: dict[str, Any]) -> User:
    return User(
        user_id=values["user_id"],
        org_id=values["org_id"],
        email=values["email"],
        name=values["name"],
        role=values["role"],
        created_at=from_iso(values["created_at"]),
    )


def _cancelled_on(error: ClientError) -> list[bool]:
    """For a cancelled transaction: which of its actions failed their condition."""
    reasons = error.response.get("CancellationReasons", [])
    return [reason.get("Code") == "ConditionalCheckFailed" for reason in reasons]


class DirectoryRepository:
    def __init__(self, directory_table: str) -> None:
        self._directory_table = directory_table

    @property
    def _table(self) -> Any:
        return aws.dynamodb_resource().Table(self._directory_table)

    # Organisations

    def create_org(self, org: Organisation) -> None:
        item = {
            **org_item_key(org.org_id),
            "org_id": org.org_id,
            "name": org.name,
            "key_limit": org.key_limit,
            "key_count": 0,
            "created_at": to_iso(org.created_at),
            "created_sort": f"{to_iso(org.created_at)}#{org.org_id}",
            "partner_id": org.partner_id,
            "plan": org.plan,
        }
        with storage_errors():
            self._table.put_item(
                Item={k: v for k, v in item.items() if v is not None},
                ConditionExpression=Attr("pk").not_exists(),
            )

    def get_org(self, org_id: str, *, including_deleted: bool = False) -> Organisation | None:
        if not is_id(org_id, "org"):
            return None
        with storage_errors():
            item = self._table.get_item(Key=org_item_key(org_id), ConsistentRead=True).get("Item")
        if not item or ("deleted_at" in item and not including_deleted):
            return None
        return _org_from_item(plain(item))

    def set_org_plan(self, org_id: str, plan: str) -> None:
        with storage_errors():
            try:
                self._table.update_item(
                    Key=org_item_key(org_id),
                    UpdateExpression="SET #plan = :plan",
                    ConditionExpression=_LIVE,
                    ExpressionAttributeNames={"#plan": "plan"},
                    ExpressionAttributeValues={":plan": plan},
                )
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    raise NotFoundError("no such organisation") from error
                raise

    def all_orgs(self) -> Iterator[Organisation]:
        """Every live org: a scan, for `gatekey plans sync` (never on a request's path)."""
        scan: dict[str, Any] = {"FilterExpression": Attr("sk").eq("ORG") & Attr("deleted_at").not_exists()}
        while True:
            with storage_errors():
                page = self._table.scan(**scan)
            yield from (_org_from_item(plain(item)) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim_quota_notice(self, org_id: str, subject: str, period_start: datetime, keep_until: datetime) -> bool:
        """One item per (subject, quota period) noticed exhausted, put once; TTL removes it after the period."""
        item = {
            **quota_notice_item_key(org_id, subject, period_start),
            PURGE_ATTRIBUTE: int(keep_until.timestamp()),
        }
        with storage_errors():
            try:
                self._table.put_item(Item=item, ConditionExpression=Attr("pk").not_exists())
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def list_partner_orgs(
        self, partner_id: str, limit: int, after: dict[str, str] | None
    ) -> tuple[list[Organisation], dict[str, str] | None]:
        """The orgs `partner_id` created, newest first, without those being deleted."""
        query = {
            "IndexName": _PARTNER_INDEX,
            "KeyConditionExpression": Key("partner_id").eq(partner_id),
            "FilterExpression": Attr("deleted_at").not_exists(),
            "ScanIndexForward": False,
        }
        start = None
        if after:  # the position names the tenant as `org_id` (see api/pagination.py)
            start = {
                **org_item_key(position_value(after, "after_org")),
                "partner_id": partner_id,
                "created_sort": position_value(after, "created_sort"),
            }
        items, more = query_page(self._table, query, limit, start)
        orgs = [_org_from_item(item) for item in items]
        if not more:
            return orgs, None
        return orgs, {"org_id": partner_id, "after_org": orgs[-1].org_id, "created_sort": items[-1]["created_sort"]}

    def mark_org_deleted(self, org_id: str, at: datetime) -> None:
        """From now on the org reads as missing and takes no new keys or users; its cascade may begin."""
        with storage_errors():
            self._table.update_item(
                Key=org_item_key(org_id),
                UpdateExpression="SET deleted_at = if_not_exists(deleted_at, :at)",
                ConditionExpression=Attr("pk").exists(),
                ExpressionAttributeValues={":at": to_iso(at)},
            )

    def delete_org(self, org_id: str) -> None:
        with storage_errors():
            self._table.delete_item(Key=org_item_key(org_id))

    def claim_bootstrap(self, at: datetime) -> bool:
        """Claim the stage's one bootstrap; False if it was claimed before."""
        try:
            self._table.put_item(
                Item={**BOOTSTRAP_ITEM_KEY, "created_at": to_iso(at)}, ConditionExpression=Attr("pk").not_exists()
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def record_bootstrapped_org(self, org_id: str) -> None:
        self._table.update_item(
            Key=BOOTSTRAP_ITEM_KEY, UpdateExpression="SET org_id = :org", ExpressionAttributeValues={":org": org_id}
        )

    def release_bootstrap(self) -> None:
        self._table.delete_item(Key=BOOTSTRAP_ITEM_KEY)

    # Users

    def create_user(self, user: User) -> None:
        """Store a user of a live org, unless the org already has a user with this email."""
        org_is_live = {
            "ConditionCheck": {
                "TableName": self._directory_table,
                "Key": to_typed(org_item_key(user.org_id)),
                "ConditionExpression": _LIVE,
            }
        }
        claim_email = {
            "Put": {
                "TableName": self._directory_table,
                "Item": to_typed({**user_email_item_key(user.org_id, user.email), "user_id": user.user_id}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        put_user = {
            "Put": {
                "TableName": self._directory_table,
                "Item": to_typed(
                    {
                        **user_item_key(user.org_id, user.user_id),
                        "user_id": user.user_id,
                        "org_id": user.org_id,
                        "email": user.email,
                        "name": user.name,
                        "role": user.role,
                        "created_at": to_iso(user.created_at),
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        with storage_errors():
            try:
                aws.dynamodb_client().transact_write_items(
                    TransactItems=cast(Any, [org_is_live, claim_email, put_user])
                )
            except ClientError as error:
                failed = _cancelled_on(error)
                if failed[:1] == [True]:
                    raise NotFoundError(f"no organisation '{user.org_id}'") from error
                if failed[1:2] == [True]:
                    raise ConflictError(
                        f"the organisation already has a user with email '{user.email}'", code="email_taken"
                    ) from error
                raise

    def get_user(self, org_id: str, user_id: str, *, including_deleted: bool = False) -> User | None:
        if not is_id(user_id, "usr"):
            return None
        with storage_errors():
            item = self._table.get_item(Key=user_item_key(org_id, user_id), ConsistentRead=True).get("Item")
        if not item or ("deleted_at" in item and not including_deleted):
            return None
        return _user_from_item(plain(item))

    def user_by_email(self, org_id: str, email: str) -> User | None:
        """The org's live user with this email, ignoring case (the email item names the user)."""
        with storage_errors():
            claim = self._table.get_item(Key=user_email_item_key(org_id, email), ConsistentRead=True).get("Item")
        return self.get_user(org_id, str(claim["user_id"])) if claim else None

    # A user's password and invitation (domain/console_access.py: PasswordStore)

    def password_hash(self, org_id: str, user_id: str) -> str | None:
        with storage_errors():
            item = self._table.get_item(
                Key=user_item_key(org_id, user_id),
                ConsistentRead=True,
                ProjectionExpression="password_hash, deleted_at",
            ).get("Item")
        if not item or "deleted_at" in item:
            return None
        return cast(str | None, item.get("password_hash"))

    def set_invitation(self, org_id: str, user_id: str, token_sha256: str, expires_at: datetime) -> None:
        with storage_errors():
            try:
                self._table.update_item(
                    Key=user_item_key(org_id, user_id),
                    UpdateExpression="SET invitation_sha256 = :token, invitation_expires_at = :until",
                    ConditionExpression=_LIVE,
                    ExpressionAttributeValues={":token": token_sha256, ":until": to_iso(expires_at)},
                )
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    raise NotFoundError("no such user in this organisation") from error
                raise

    def accept_invitation(
        self, org_id: str, user_id: str, token_sha256: str, password_hash: str, now: datetime
    ) -> bool:
        with storage_errors():
            try:
                self._table.update_item(
                    Key=user_item_key(org_id, user_id),
                    UpdateExpression="SET password_hash = :password REMOVE invitation_sha256, invitation_expires_at",
                    ConditionExpression=f"{_LIVE} AND invitation_sha256 = :token AND invitation_expires_at > :now",
                    ExpressionAttributeValues={":password": password_hash, ":token": token_sha256, ":now": to_iso(now)},
                )
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    # Failed sign-ins (domain/console_access.py: SignInThrottle)

    def recent_failures(self, org_id: str, email: str, now: datetime) -> tuple[int, datetime | None]:
        with storage_errors():
            item = self._table.get_item(Key=sign_in_failures_item_key(org_id, email), ConsistentRead=True).get("Item")
        if not item or from_iso(item["window_ends_at"]) <= now:
            return 0, None
        return int(item["failures"]), from_iso(item["window_ends_at"])

    def record_failure(self, org_id: str, email: str, now: datetime, window: timedelta) -> None:
        """One more failure in the current window, or the first of a new one; counted atomically."""
        key = sign_in_failures_item_key(org_id, email)
        ends = now + window
        values = {":one": 1, ":now": to_iso(now), ":ends": to_iso(ends), ":purge": int(ends.timestamp())}
        with storage_errors():
            try:
                self._table.update_item(
                    Key=key,
                    UpdateExpression="SET failures = failures + :one",
                    ConditionExpression="window_ends_at > :now",
                    ExpressionAttributeValues={":one": 1, ":now": to_iso(now)},
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                self._table.update_item(
                    Key=key,
                    UpdateExpression=f"SET failures = :one, window_ends_at = :ends, {PURGE_ATTRIBUTE} = :purge",
                    ExpressionAttributeValues={name: values[name] for name in (":one", ":ends", ":purge")},
                )

    def clear(self, org_id: str, email: str) -> None:
        with storage_errors():
            self._table.delete_item(Key=sign_in_failures_item_key(org_id, email))

    def list_users(
        self, org_id: str, limit: int, after: dict[str, str] | None
    ) -> tuple[list[User], dict[str, str] | None]:
        query = {
            "KeyConditionExpression": Key("pk").eq(org_item_key(org_id)["pk"])
            & Key("sk").begins_with(USER_SORT_PREFIX),
            "FilterExpression": Attr("deleted_at").not_exists(),
        }
        start = user_item_key(org_id, position_value(after, "after_user")) if after else None
        items, more = query_page(self._table, query, limit, start)
        users = [_user_from_item(item) for item in items]
        return users, {"org_id": org_id, "after_user": users[-1].user_id} if more else None

    def all_users(self, org_id: str) -> Iterator[User]:
        """Every user of the org, those being deleted included, for the org's deletion cascade."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(org_item_key(org_id)["pk"])
            & Key("sk").begins_with(USER_SORT_PREFIX),
            "ConsistentRead": True,
        }
        return (_user_from_item(item) for item in query_all(self._table, query))

    def mark_user_deleted(self, user: User, at: datetime) -> None:
        """From now on the user reads as missing and can be given no new key; the key cascade may begin."""
        with storage_errors():
            self._table.update_item(
                Key=user_item_key(user.org_id, user.user_id),
                UpdateExpression="SET deleted_at = if_not_exists(deleted_at, :at)",
                ConditionExpression=Attr("pk").exists(),
                ExpressionAttributeValues={":at": to_iso(at)},
            )

    def delete_user(self, user: User) -> None:
        """Remove the user and free their email, once their keys are gone."""
        with storage_errors():
            aws.dynamodb_client().transact_write_items(
                TransactItems=cast(
                    Any,
                    [
                        {
                            "Delete": {
                                "TableName": self._directory_table,
                                "Key": to_typed(user_item_key(user.org_id, user.user_id)),
                            }
                        },
                        {
                            "Delete": {
                                "TableName": self._directory_table,
                                "Key": to_typed(user_email_item_key(user.org_id, user.email)),
                            }
                        },
                    ],
                )
            )
