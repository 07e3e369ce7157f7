"""Webhooks in the webhooks table: one item per webhook, its signing secret only sealed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from gatekey.domain.clock import from_iso, to_iso
from gatekey.domain.errors import NotFoundError
from gatekey.domain.webhooks import Webhook
from gatekey.storage import aws
from gatekey.storage.aws import storage_errors
from gatekey.storage.items import plain
from gatekey.storage.paging import query_all, query_page
from gatekey.storage.tables import WEBHOOKS_TABLE

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

    def create(self, webhook: Webhook) -> None:
        with storage_errors():
            self._table.put_item(Item=webhook_to_item(webhook), ConditionExpression=Attr("webhook_id").not_exists())

    def get_in_org(self, org_id: str, webhook_id: str) -> Webhook:
        with storage_errors():
            item = self._table.get_item(Key={"webhook_id": webhook_id}, ConsistentRead=True).get("Item")
        if not item or item["org_id"] != org_id:
            raise _not_found(webhook_id)
        return webhook_from_item(plain(item))

    def delete_in_org(self, org_id: str, webhook_id: str) -> Webhook:
        """Delete the webhook if it belongs to `org_id` and return it; else NotFoundError, nothing deleted."""
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

    def count_for_org(self, org_id: str) -> int:
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
