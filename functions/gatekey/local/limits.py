"""Usage plans in the local gateway (DESIGN §13): API Gateway's throttle and quota per usage plan and API key, and
the per-day counts its GetUsage reports, kept in `gatekey serve`'s process.

As in API Gateway, the authorizer names the key a request counts against (`usageIdentifierKey`, the key's value);
the embedded API Gateway (moto) holds the keys and their usage plans, so a plan change bites on the next request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from gatekey.api_gateway import ACCESS_DENIED, QUOTA_EXCEEDED, THROTTLED, GatewayResponse
from gatekey.domain.plans import GATEKEY_API, PROTECTED_APIS, Plan, Plans, Quota, UsagePlanScope, usage_plan_name
from gatekey.storage import aws

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient

# The last 30 days of DESIGN §13 and today; also every day of the longest quota period, a month.
USAGE_DAYS_KEPT = 31


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class UsageKey:
    """The API Gateway key a request counts against, the usage plan (by name) that holds it for the API asked,
    and that usage plan's plan."""

    api_key_id: str
    usage_plan: str
    plan: Plan


class UsageKeyResolver(Protocol):
    def resolve(self, value: str, scope: UsagePlanScope) -> UsageKey | None:
        """The key with this value and its usage plan for the APIs of `scope` on the gateway's stage; None when
        there is no such key or it is in none of those usage plans."""


class LocalUsageRecords:
    """Admitted requests per (usage plan, API Gateway key, UTC day), the last `USAGE_DAYS_KEPT` days; read as
    GetUsage reports a plan's usage plan for the protected APIs (`gatekey.domain.plans.UsageRecords`)."""

    def __init__(self, stage: str = "local") -> None:
        self._stage = stage
        self._days: dict[tuple[str, str], dict[date, int]] = {}
        self._lock = threading.Lock()

    def record(self, usage_plan: str, api_key_id: str, day: date) -> None:
        """One more request on `day`; days that have aged out of the window are dropped as a new day starts."""
        with self._lock:
            days = self._days.setdefault((usage_plan, api_key_id), {})
            if day not in days:
                oldest = day - timedelta(days=USAGE_DAYS_KEPT - 1)
                for old in [kept for kept in days if kept < oldest]:
                    del days[old]
            days[day] = days.get(day, 0) + 1

    def used(self, usage_plan: str, api_key_id: str, start: date, end: date) -> int:
        """Requests from `start` up to, not including, `end`."""
        with self._lock:
            days = self._days.get((usage_plan, api_key_id), {})
            return sum(count for day, count in days.items() if start <= day < end)

    def used_in_period(self, usage_plan: str, api_key_id: str, quota: Quota, moment: datetime) -> int:
        """Requests in the quota period holding `moment`: periods start at a UTC midnight, so whole days add up."""
        start, end = quota.period_of(moment)
        return self.used(usage_plan, api_key_id, start.date(), end.date())

    def daily_usage(self, plan: str, start: date, end: date, api_key_id: str | None = None) -> dict[str, list[int]]:
        span = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
        wanted = usage_plan_name(self._stage, plan, PROTECTED_APIS)
        with self._lock:
            usage = {
                key_id: [days.get(day, 0) for day in span]
                for (usage_plan, key_id), days in self._days.items()
                if usage_plan == wanted and api_key_id in (None, key_id)
            }
        return {key_id: counts for key_id, counts in usage.items() if any(counts)}


_LOCAL_USAGE_RECORDS = LocalUsageRecords()


def local_usage_records() -> LocalUsageRecords:
    """The counts of this process's local gateway: `gatekey serve` enforces plans into it, and the management API
    running beside it reads it (`services.count_usage_locally`)."""
    return _LOCAL_USAGE_RECORDS


@dataclass
class _Bucket:
    tokens: float
    filled_at: float  # on the monotonic clock


class UsageLimiter:
    """A usage plan's throttle and quota for each of its keys, as API Gateway applies them: a token bucket of
    `burst` requests, starting full and refilled at `rate` per second, and at most the quota's limit of requests
    in each calendar period (UTC). Only admitted requests take a token and count, so a client that backs off is
    served again as soon as its bucket refills, and a refused request does not use up the quota."""

    def __init__(
        self,
        records: LocalUsageRecords,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._records = records
        self._monotonic = monotonic
        self._now = now
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        # One lock for check-then-count: two requests racing for the last token or the last request of the quota
        # must not both get through.
        self._lock = threading.Lock()

    def admit(self, key: UsageKey) -> GatewayResponse | None:
        """None when the request may go on (it is counted); else the gateway response that refuses it."""
        plan, usage_plan, api_key_id = key.plan, key.usage_plan, key.api_key_id
        with self._lock:
            at = self._monotonic()
            bucket = self._buckets.setdefault((usage_plan, api_key_id), _Bucket(float(plan.burst), at))
            bucket.tokens = min(float(plan.burst), bucket.tokens + (at - bucket.filled_at) * plan.rate)
            bucket.filled_at = at
            if bucket.tokens < 1:
                return THROTTLED
            moment = self._now().astimezone(UTC)
            quota = plan.quota
            if quota and self._records.used_in_period(usage_plan, api_key_id, quota, moment) >= quota.limit:
                return QUOTA_EXCEEDED
            bucket.tokens -= 1
            self._records.record(usage_plan, api_key_id, moment.date())
            return None


@dataclass(frozen=True)
class UsagePlanEnforcer:
    """What API Gateway does for a method that requires an API key, its key source the authorizer: find the key
    the authorizer named and its usage plan, then apply the plan."""

    keys: UsageKeyResolver
    limiter: UsageLimiter

    def admit(self, usage_identifier_key: str | None, scope: UsagePlanScope) -> GatewayResponse | None:
        """None when the request may go on; ACCESS_DENIED when the authorizer named no key of a usage plan of the
        API asked (`scope`: the protected APIs, or Gatekey's own)."""
        key = self.keys.resolve(usage_identifier_key, scope) if usage_identifier_key else None
        if key is None:
            return ACCESS_DENIED
        return self.limiter.admit(key)


class ApiGatewayUsageKeys:
    """Keys and usage plans as the (embedded) API Gateway holds them: key values are cached, as they never change
    for a key id; the key's usage plan is asked for on every request, so moving a key to another plan bites at
    once."""

    def __init__(self, plans: Plans, stage: str, client: APIGatewayClient | None = None) -> None:
        self._usage_plans: dict[str, tuple[UsagePlanScope, Plan]] = {
            usage_plan_name(stage, name, scope): (scope, plans[name])
            for name in plans.names()
            for scope in (PROTECTED_APIS, GATEKEY_API)
        }
        self._client = client or aws.apigateway_client()
        # Replaced whole, never changed in place, so the gateway's threads read it without a lock.
        self._key_ids: Mapping[str, str] = {}

    def resolve(self, value: str, scope: UsagePlanScope) -> UsageKey | None:
        cached = self._key_ids.get(value)
        if cached is not None and (found := self._usage_key(cached, scope)) is not None:
            return found
        # A key made since the last look, or one made again under the same value (with a new id).
        self._key_ids = self._all_key_ids()
        key_id = self._key_ids.get(value)
        if key_id is None or key_id == cached:
            return None
        return self._usage_key(key_id, scope)

    def _usage_key(self, api_key_id: str, scope: UsagePlanScope) -> UsageKey | None:
        for page in self._client.get_paginator("get_usage_plans").paginate(keyId=api_key_id):
            for usage_plan in page.get("items", []):
                name = usage_plan.get("name", "")
                found = self._usage_plans.get(name)
                if found is not None and found[0] == scope:
                    return UsageKey(api_key_id, name, found[1])
        return None

    def _all_key_ids(self) -> dict[str, str]:
        return {
            key["value"]: key["id"]
            for page in self._client.get_paginator("get_api_keys").paginate(includeValues=True)
            for key in page.get("items", [])
            if "value" in key and "id" in key
        }
