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
from gatekey.domain.console_access import AttemptCount, AttemptWindow, SignInRecord
from gatekey.domain.directory import Organisation, User
from gatekey.domain.errors import ConflictError, NotFoundError, StorageUnavailableError
from gatekey.domain.ids import is_id
from gatekey.storage import aws
from gatekey.storage.aws import cancelled_on, storage_errors
from gatekey.storage.items import from_typed, plain, to_typed
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
# A user id no user has (real ones are `usr_…`): sign-in reads it when the email names nobody.
_NOBODY = "nobody"
# Rounds of counting a sign-in attempt when parallel attempts keep changing the counter; each round some attempt
# succeeds, so a burst settles well within this.
_COUNTING_ROUNDS = 20
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


def _attempt_window(counter: dict[str, Any] | None) -> AttemptWindow | None:
    if not counter or "attempts" not in counter:
        return None
    return AttemptWindow(attempts=int(counter["attempts"]), ends_at=from_iso(counter["window_ends_at"]))


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
                failed = cancelled_on(error)
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

    # Sign-in's reads and attempt counter (domain/console_access.py: SignInThrottle)

    def sign_in_record(self, org_id: str, email: str) -> SignInRecord:
        """Two consistent reads whatever exists: the org, the email's claim and the attempt counter in one batch,
        then the user the claim names, or a user nobody is (so an unknown email or org costs what a known one
        does)."""
        keys = [org_item_key(org_id), user_email_item_key(org_id, email), sign_in_failures_item_key(org_id, email)]
        org_item, claim, counter = self._get_consistently(keys)
        user_id = str(claim["user_id"]) if claim else _NOBODY
        with storage_errors():
            user_item = self._table.get_item(Key=user_item_key(org_id, user_id), ConsistentRead=True).get("Item")
        org = _org_from_item(org_item) if org_item and "deleted_at" not in org_item else None
        user = _user_from_item(plain(user_item)) if user_item and "deleted_at" not in user_item else None
        password_hash = cast(str | None, user_item.get("password_hash")) if user and user_item else None
        return SignInRecord(org, user, password_hash, _attempt_window(counter))

    def count_attempt(
        self, org_id: str, email: str, seen: AttemptWindow | None, *, now: datetime, length: timedelta, limit: int
    ) -> AttemptCount:
        # One transaction: the org's check and the count are applied together or not at all, so an org that does not
        # exist (or is being deleted) gets nothing written, at the cost of the same one call.
        org_is_live = {
            "ConditionCheck": {
                "TableName": self._directory_table,
                "Key": to_typed(org_item_key(org_id)),
                "ConditionExpression": _LIVE,
            }
        }
        key = to_typed(sign_in_failures_item_key(org_id, email))
        for _ in range(_COUNTING_ROUNDS):
            if seen is not None and seen.ends_at > now:
                if seen.attempts >= limit:
                    return AttemptCount(counted=False, window_ends_at=seen.ends_at)
                ends = seen.ends_at
                # `attempts < :limit`, not `= seen`: parallel attempts of one window all count while room is left.
                count = {
                    "UpdateExpression": "ADD attempts :one",
                    "ConditionExpression": "window_ends_at = :ends AND attempts < :limit",
                    "ExpressionAttributeValues": to_typed({":one": 1, ":ends": to_iso(ends), ":limit": limit}),
                }
            else:
                ends = now + length
                count = {
                    "UpdateExpression": f"SET attempts = :one, window_ends_at = :ends, {PURGE_ATTRIBUTE} = :purge",
                    "ConditionExpression": "attribute_not_exists(attempts) OR window_ends_at <= :now",
                    "ExpressionAttributeValues": to_typed(
                        {":one": 1, ":ends": to_iso(ends), ":now": to_iso(now), ":purge": int(ends.timestamp())}
                    ),
                }
            update = {
                "Update": {
                    "TableName": self._directory_table,
                    "Key": key,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    **count,
                }
            }
            with storage_errors():
                try:
                    aws.dynamodb_client().transact_write_items(TransactItems=cast(Any, [org_is_live, update]))
                except ClientError as error:
                    if error.response["Error"]["Code"] != "TransactionCanceledException":
                        raise
                    reasons = error.response.get("CancellationReasons", [])
                    codes = [reason.get("Code") for reason in reasons]
                    if codes[:1] == ["ConditionalCheckFailed"]:
                        return AttemptCount(counted=False, window_ends_at=None)
                    if codes[1:2] == ["ConditionalCheckFailed"]:
                        # A parallel attempt changed the counter since it was read: decide again on what is stored.
                        stored = reasons[1].get("Item")
                        seen = _attempt_window(from_typed(stored) if stored else None)
                        continue
                    if "TransactionConflict" in codes:
                        continue
                    raise
            return AttemptCount(counted=True, window_ends_at=ends)
        raise StorageUnavailableError("too many sign-in attempts at once for this email, try again")

    def give_back_attempt(self, org_id: str, email: str, window_ends_at: datetime) -> None:
        with storage_errors():
            try:
                self._table.update_item(
                    Key=sign_in_failures_item_key(org_id, email),
                    UpdateExpression="ADD attempts :minus_one",
                    ConditionExpression="window_ends_at = :ends AND attempts > :none",
                    ExpressionAttributeValues={":minus_one": -1, ":ends": to_iso(window_ends_at), ":none": 0},
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise  # else a new window began meanwhile: the attempt was counted in one that is over

    def _get_consistently(self, keys: list[dict[str, str]]) -> list[dict[str, Any] | None]:
        """The items of `keys` (None where missing), in one BatchGetItem unless DynamoDB leaves some for later."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request: dict[str, Any] = {self._directory_table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            with storage_errors():
                answer = aws.dynamodb_resource().batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self._directory_table, []):
                found[(str(item["pk"]), str(item["sk"]))] = plain(item)
            request = answer.get("UnprocessedKeys") or {}
        return [found.get((key["pk"], key["sk"])) for key in keys]

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
