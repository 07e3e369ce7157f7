"""Schemathesis hooks for fuzzing `gatekey serve`: what a schema cannot say, and keeping the run useful.

Only rules the OpenAPI document states in words but JSON Schema cannot express are applied, and only to
positive cases (data the schema calls valid): an `expires_at` in the future, `until` not before `since`, a
cursor the API handed out, a webhook URL the deployment may deliver to. Negative cases go out as generated.
The run never revokes, rotates, edits or deletes the key (and user) it runs with: it would end in 401s.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from schemathesis.generation.case import Case
from schemathesis.hooks import HookContext

RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9:.]+([Zz]|[+-][0-9]{2}:[0-9]{2})")
CURSOR = re.compile(r"[A-Za-z0-9_-]*\.[0-9a-f]{16}")
CALLER_IDS = {os.environ.get("GATEKEY_FUZZ_KEY_ID", ""), os.environ.get("GATEKEY_FUZZ_USER_ID", "")} - {""}
WEBHOOK_URL = os.environ.get("GATEKEY_FUZZ_WEBHOOK_URL", "")


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str) or not RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("z", "Z").replace("t", "T").replace(":60", ":59"))
    except ValueError:
        return None


@schemathesis.hook
def filter_case(context: HookContext, case: Case) -> bool:
    """Leave the caller's own key and user alone (reading them is fine)."""
    if case.method.upper() in ("GET", "HEAD"):
        return True
    return not (set(map(str, (case.path_parameters or {}).values())) & CALLER_IDS)


@schemathesis.hook
def map_case(context: HookContext, case: Case) -> Case:
    if isinstance(case.body, dict) and case.operation.path == "/v1/webhooks":
        _deliverable_webhook(case.body)
    if case.meta is not None and not case.meta.generation.mode.is_positive:
        return case
    if isinstance(case.query, dict):
        _query_as_documented(case.query)
    if isinstance(case.body, dict):
        _body_as_documented(case.body)
    return case


def _deliverable_webhook(body: dict[str, Any]) -> None:
    """Webhook URLs must resolve from where Gatekey runs (here: no network, loopback allowed): a URL the
    schema accepts becomes the test's receiver; a URL it refuses is left for Gatekey to refuse."""
    url = body.get("url")
    if isinstance(url, str) and 1 <= len(url) <= 2048 and WEBHOOK_URL:
        body["url"] = WEBHOOK_URL


def _query_as_documented(query: dict[str, Any]) -> None:
    cursor = query.get("cursor")
    if isinstance(cursor, str) and CURSOR.fullmatch(cursor):
        del query["cursor"]  # an opaque cursor is valid only as the API handed it out
    since, until = _moment(query.get("since")), _moment(query.get("until"))
    if since and until and until < since:
        query["since"], query["until"] = query["until"], query["since"]


def _body_as_documented(body: dict[str, Any]) -> None:
    expires_at = _moment(body.get("expires_at"))
    if expires_at is not None and expires_at <= datetime.now(UTC) + timedelta(minutes=5):
        body["expires_at"] = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")


@schemathesis.hook
def before_add_examples(context: HookContext, examples: list[Case]) -> None:
    """The document's examples go out as written, but for what only the deployment decides (webhook URLs)."""
    for example in examples:
        if isinstance(example.body, dict) and example.operation.path == "/v1/webhooks":
            _deliverable_webhook(example.body)
