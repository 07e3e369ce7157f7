"""Plans (DESIGN §13): the rate, burst and quota a customer's requests get, enforced by API Gateway's usage plans.

Gatekey never counts requests on the authorizer's path. The authorizer names the API Gateway key a request counts
against (`usageIdentifierKey`): the org's, shared by all its keys, or a key's own when the key has a plan of its own.
Those keys' values are derived, never stored: an HMAC, under the stage's KMS-held pepper, of the org's or the key's
id, so every function computes the same value, a rotation keeps it (and the quota's count), and no table holds it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol, get_args

QuotaPeriod = Literal["day", "week", "month"]
QUOTA_PERIODS: tuple[QuotaPeriod, ...] = get_args(QuotaPeriod)
# API Gateway's limits on a usage plan's throttle (requests per second, burst) and on a key's value.
MAX_RATE = 10_000.0
MAX_BURST = 5_000
USAGE_KEY_PREFIX = "gku_"
# AWS's quota of API keys per account and region (DESIGN §13: a key's own plan takes one of them).
API_KEYS_PER_REGION = 10_000


@dataclass(frozen=True)
class Quota:
    limit: int
    period: QuotaPeriod

    def period_of(self, moment: datetime) -> tuple[datetime, datetime]:
        """The calendar period holding `moment`, in UTC, as API Gateway counts it: a day from midnight, a week from
        Sunday midnight, a month from the 1st."""
        day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if self.period == "day":
            return day, day + timedelta(days=1)
        if self.period == "week":
            start = day - timedelta(days=(day.weekday() + 1) % 7)  # Monday is 0: back to Sunday
            return start, start + timedelta(days=7)
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following


@dataclass(frozen=True)
class Plan:
    name: str
    rate: float  # requests per second, steady
    burst: int  # requests above the rate a bucket holds
    quota: Quota | None = None

    def limits(self) -> dict[str, object]:
        """The plan as the API shows it."""
        quota = {"limit": self.quota.limit, "period": self.quota.period} if self.quota else None
        return {"name": self.name, "rate": self.rate, "burst": self.burst, "quota": quota}


@dataclass(frozen=True)
class Plans:
    """The configuration's plans; none at all means no limits but the stage's throttling (`enabled` False)."""

    by_name: Mapping[str, Plan]
    default: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.by_name)

    def __getitem__(self, name: str) -> Plan:
        return self.by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def names(self) -> list[str]:
        return sorted(self.by_name)


NO_PLANS = Plans({})


# Each plan is two usage plans: one for the APIs Gatekey protects (their requests are what a plan sells, and what
# GET /v1/usage reports), one for Gatekey's own management API, limited alike but counted apart, so a customer
# who used up the quota can still see it and manage their keys.
UsagePlanScope = Literal["protected", "gatekey"]
PROTECTED_APIS: UsagePlanScope = "protected"
GATEKEY_API: UsagePlanScope = "gatekey"
_SCOPE_SUFFIX: dict[UsagePlanScope, str] = {PROTECTED_APIS: "", GATEKEY_API: ".gatekey-api"}


def usage_plan_name(stage: str, plan: str, scope: UsagePlanScope = PROTECTED_APIS) -> str:
    """The API Gateway usage plan of `plan` on `stage` for the protected APIs or for Gatekey's own (the construct
    creates them; functions find them by name). Plan names have no '.', so the two never clash."""
    return f"gatekey-{stage}-{plan}{_SCOPE_SUFFIX[scope]}"


def usage_plan_names(stage: str, plan: str) -> tuple[str, ...]:
    """Both usage plans of `plan`: an org's (or a key's) API Gateway key is in these two and no other."""
    return tuple(usage_plan_name(stage, plan, scope) for scope in (PROTECTED_APIS, GATEKEY_API))


def usage_key_name(stage: str, subject: str) -> str:
    """The name of the API Gateway key of an org or of a key with its own plan (its id is the subject)."""
    return f"gatekey-{stage}-{subject}"


def usage_key_value(pepper: bytes, subject: str) -> str:
    """The API Gateway key value of an org (subject: its id) or of a key with a plan of its own (the key's id)."""
    mac = hmac.new(pepper, b"gatekey usage key v1:" + subject.encode(), hashlib.sha256).digest()
    return USAGE_KEY_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")


class UsageRecords(Protocol):
    """Requests counted per API Gateway key and UTC day, as API Gateway's GetUsage reports a usage plan's usage
    (storage/usage_plans.py); `gatekey serve` reads its local gateway's counters instead (local/limits.py)."""

    def daily_usage(self, plan: str, start: date, end: date, api_key_id: str | None = None) -> dict[str, list[int]]:
        """API key id -> requests on each day from `start` to `end`, both included, under the usage plan of `plan`
        (only `api_key_id`'s when given; a key without requests may be left out)."""
