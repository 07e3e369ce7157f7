"""One page of a DynamoDB query: up to `limit` items and whether more follow, however a filter thins the reads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gatekey.storage.aws import storage_errors
from gatekey.storage.items import plain


def query_page(
    table: Any, query: Mapping[str, Any], limit: int, after: dict[str, str] | None
) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` plain items, starting after `after`, and whether another item follows them."""
    wanted = limit + 1  # one more than asked says whether another page exists
    filtered = "FilterExpression" in query  # DynamoDB's Limit counts items before the filter
    items: list[dict[str, Any]] = []
    start = after
    with storage_errors():
        while len(items) < wanted:
            page_args = dict(query)
            if not filtered:
                page_args["Limit"] = wanted - len(items)
            if start:
                page_args["ExclusiveStartKey"] = start
            page = table.query(**page_args)
            items.extend(plain(item) for item in page["Items"])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return items[:limit], len(items) > limit


def query_all(table: Any, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every plain item a query matches, page after page (for cascades and small, bounded sets)."""
    page_args = dict(query)
    with storage_errors():
        while True:
            page = table.query(**page_args)
            yield from (plain(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return
            page_args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
