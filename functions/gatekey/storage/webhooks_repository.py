"""Webhooks in the webhooks table: one item per webhook, its signing secret only sealed; a counter item per org
holds the org to its limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import BotoCoreError, ClientError

from gatekey.domain.clock import from_iso, to_iso
from gatekey.domain.errors import NotFoundError, StorageUnavailableError
from gatekey.domain.webhooks import Webhook, WebhookLimitReachedError
from gatekey.storage import aws
from gatekey.storage.aws import cancelled_on, storage_errors
from gatekey.storage.items import plain, to_typed
from gatekey.storage.paging import query_all, query_page
from gatekey.storage.tables import WEBHOOKS_TABLE, webhook_count_item_key

_ORG_INDEX = WEBHOOKS_TABLE.indexes[0].name


def _created_sort(webhook: Webhook) -> str:
    return f"{to_iso(webhook.created_at)}#{webhook.webhook_id}"


def webhook_to_item(webhook: Webhook) -> dict[str, Any]:
    return {
        "webhook_id": webhook.webhook_id,
        "org_id": webhook.org_id,
        "created_sort": _created_sort(webhook),
        "url": webhook.url,
        "event_types": list(webhook.event_types),
        "created_at": to_iso(webhook.created_at),
        "created_by": webhook.created_by,
        "sealed_secret": webhook.sealed_secret,
    }


def webhook_from_item(item: dict[str, Any]) -> Webhook:
    return Webhook(
        webhook_id=item["webhook_id"],
        org_id=item["org_id"],
        url=item["url"],
        event_types=tuple(item["event_types"]),
        created_at=from_iso(item["created_at"]),
        created_by=item["created_by"],
        sealed_secret=item["sealed_secret"],
    )


def _not_found(webhook_id: str) -> NotFoundError:
    return NotFoundError(f"no webhook '{webhook_id}' in this organisation")


class WebhooksRepository:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.dynamodb_resource().Table(self._table_name)

    def create(self, webhook: Webhook, limit: int) -> None:
        """Store the webhook and count it on its org's counter item in one transaction, the count conditioned
        on staying within `limit`: of parallel creates (in any number of containers) at most `limit` land, as
        the org key limit holds (storage/keys_repository.py). Raises WebhookLimitReachedError at the limit.

        An org whose webhooks predate the counter starts it from what it has (the `by_org` count), so it
        cannot go past the limit either; once the counter exists, it alone counts."""
        existing = self._count_by_index(webhook.org_id)
        if existing >= limit:
            # The counter, if it exists, decides; without one the org is already full.
            within_limit = "attribute_exists(webhook_count) AND webhook_count < :limit"
        else:
            within_limit = "attribute_not_exists(webhook_count) OR webhook_count < :limit"
        count_it = {
            "Update": {
                "TableName": self._table_name,
                "Key": to_typed(webhook_count_item_key(webhook.org_id)),
                "UpdateExpression": "SET webhook_count = if_not_exists(webhook_count, :existing) + :one",
                "ConditionExpression": within_limit,
                "ExpressionAttributeValues": to_typed({":existing": existing, ":one": 1, ":limit": limit}),
            }
        }
        put_it = {
            "Put": {
                "TableName": self._table_name,
                "Item": to_typed(webhook_to_item(webhook)),
                "ConditionExpression": "attribute_not_exists(webhook_id)",
            }
        }
        try:
            aws.dynamodb_client().transact_write_items(TransactItems=cast(Any, [count_it, put_it]))
        except ClientError as error:
            if cancelled_on(error)[:1] == [True]:
                raise WebhookLimitReachedError() from error
            raise StorageUnavailableError("storage is unavailable, try again") from error
        except BotoCoreError as error:
            raise StorageUnavailableError("storage is unavailable, try again") from error

    def get_in_org(self, org_id: str, webhook_id: str) -> Webhook:
        with storage_errors():
            item = self._table.get_item(Key={"webhook_id": webhook_id}, ConsistentRead=True).get("Item")
        if not item or item["org_id"] != org_id:
            raise _not_found(webhook_id)
        return webhook_from_item(plain(item))

    def delete_in_org(self, org_id: str, webhook_id: str) -> Webhook:
        """Delete the webhook if it belongs to `org_id` and return it, freeing its place under the org's limit in
        the same transaction; else NotFoundError, nothing deleted."""
        webhook = self.get_in_org(org_id, webhook_id)
        delete_it = {
            "Delete": {
                "TableName": self._table_name,
                "Key": to_typed({"webhook_id": webhook_id}),
                "ConditionExpression": "org_id = :org",
                "ExpressionAttributeValues": to_typed({":org": org_id}),
            }
        }
        uncount_it = {
            "Update": {
                "TableName": self._table_name,
                "Key": to_typed(webhook_count_item_key(org_id)),
                "UpdateExpression": "SET webhook_count = webhook_count - :one",
                "ConditionExpression": "webhook_count > :zero",
                "ExpressionAttributeValues": to_typed({":zero": 0, ":one": 1}),
            }
        }
        try:
            aws.dynamodb_client().transact_write_items(TransactItems=cast(Any, [delete_it, uncount_it]))
        except ClientError as error:
            failed = cancelled_on(error)
            if failed[:1] == [True]:
                raise _not_found(webhook_id) from error  # deleted meanwhile
            if failed[1:2] != [True]:
                raise StorageUnavailableError("storage is unavailable, try again") from error
            # No counter yet (the org's webhooks predate it): the next create starts it from the index.
            return self._delete_uncounted(org_id, webhook_id)
        except BotoCoreError as error:
            raise StorageUnavailableError("storage is unavailable, try again") from error
        return webhook

    def _delete_uncounted(self, org_id: str, webhook_id: str) -> Webhook:
        with storage_errors():
            try:
                response = self._table.delete_item(
                    Key={"webhook_id": webhook_id},
                    ConditionExpression=Attr("org_id").eq(org_id),
                    ReturnValues="ALL_OLD",
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    raise _not_found(webhook_id) from error
                raise
        return webhook_from_item(plain(response["Attributes"]))

    def _count_by_index(self, org_id: str) -> int:
        with storage_errors():
            response = self._table.query(
                IndexName=_ORG_INDEX, KeyConditionExpression=Key("org_id").eq(org_id), Select="COUNT"
            )
        return int(response["Count"])

    def all_of_org(self, org_id: str) -> Iterator[Webhook]:
        """Every webhook of the org (at most a handful: MAX_WEBHOOKS_PER_ORG), for delivery and deletion."""
        query = {"IndexName": _ORG_INDEX, "KeyConditionExpression": Key("org_id").eq(org_id)}
        return (webhook_from_item(item) for item in query_all(self._table, query))

    def list_for_org(
        self, org_id: str, limit: int, after: dict[str, str] | None
    ) -> tuple[list[Webhook], dict[str, str] | None]:
        """Newest first; up to `limit` webhooks and the position to continue from (None at the end)."""
        query = {
            "IndexName": _ORG_INDEX,
            "KeyConditionExpression": Key("org_id").eq(org_id),
            "ScanIndexForward": False,
        }
        items, more = query_page(self._table, query, limit, after)
        webhooks = [webhook_from_item(item) for item in items]
        if not more:
            return webhooks, None
        last = webhooks[-1]
        return webhooks, {"webhook_id": last.webhook_id, "org_id": last.org_id, "created_sort": _created_sort(last)}
