"""One page of a DynamoDB query: up to `limit` items and whether more follow, however a filter thins the reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from gatekey.domain.errors import InvalidRequestError
from gatekey.storage.aws import storage_errors
from gatekey.storage.items import plain


def invalid_position() -> InvalidRequestError:
    """A page position (from a cursor) this listing cannot start from: the client's error, not storage's."""
    return InvalidRequestError("cursor is not valid", code="invalid_cursor")


def position_value(after: dict[str, str], name: str) -> str:
    value = after.get(name)
    if not isinstance(value, str):
        raise invalid_position()
    return value


def query_page(
    table: Any,
    query: Mapping[str, Any],
    limit: int,
    after: dict[str, str] | None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` plain items, starting after `after`, and whether another item follows them. `keep`, a rule
    DynamoDB cannot express, thins the items like a FilterExpression: the page is still filled to `limit`."""
    wanted = limit + 1  # one more than asked says whether another page exists
    # DynamoDB's Limit counts items before the filter (and before `keep`)
    filtered = "FilterExpression" in query or keep is not None
    items: list[dict[str, Any]] = []
    start = after
    with storage_errors():
        while len(items) < wanted:
            page_args = dict(query)
            if not filtered:
                page_args["Limit"] = wanted - len(items)
            if start:
                page_args["ExclusiveStartKey"] = start
            try:
                page = table.query(**page_args)
            except ClientError as error:
                # DynamoDB refuses a start key that is not one of this table's or index's keys.
                if start is after and error.response.get("Error", {}).get("Code") == "ValidationException":
                    raise invalid_position() from error
                raise
            items.extend(item for item in map(plain, page["Items"]) if keep is None or keep(item))
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
