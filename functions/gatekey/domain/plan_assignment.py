"""Who is on which plan, and how much of it they used (DESIGN §13).

An org is on a plan (the configuration's `default_plan` from its creation); all its keys count against the org's
API Gateway key. A key given a plan of its own counts against a key of its own. Changing a plan moves the API
Gateway key to the other usage plan first, then records it, so the change bites on the next request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol

from gatekey.domain.api_keys import ApiKey, KeyStore
from gatekey.domain.clock import to_iso, utc_now
from gatekey.domain.directory import Directory, Organisation
from gatekey.domain.errors import ConflictError, InvalidRequestError, NotFoundError
from gatekey.domain.events import EventPublisher, new_event
from gatekey.domain.ids import mention
from gatekey.domain.key_lifecycle import Caller, admin_required, standing_of
from gatekey.domain.plans import Plan, Plans, UsageRecords

USAGE_DAYS = 30  # GET /v1/usage shows this many days, today included


class UsageIdentities(Protocol):
    """API Gateway keys and their usage plans (storage/usage_plans.py)."""

    def ensure(self, subject: str, plan: str) -> str:
        """`subject`'s API Gateway key, created if missing, in `plan`'s usage plans and no other; its id."""

    def remove(self, subject: str) -> None: ...

    def api_key_id(self, subject: str) -> str | None: ...

    def subject_of(self, api_key_id: str) -> str | None:
        """The org or key id an API Gateway key belongs to; None for a key Gatekey did not make."""


@dataclass(frozen=True)
class Usage:
    """A plan and what was used of it: in the current quota period, and per day for the last 30 days."""

    plan: Plan | None
    subject: str  # the org's id, or the key's with a plan of its own
    period: tuple[datetime, datetime] | None = None
    used: int | None = None
    remaining: int | None = None
    daily: tuple[tuple[date, int], ...] = ()


class PlanAssignment:
    def __init__(
        self,
        plans: Plans,
        identities: UsageIdentities,
        records: UsageRecords,
        directory: Directory,
        keys: KeyStore,
        *,
        events: EventPublisher,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._plans = plans
        self._identities = identities
        self._records = records
        self._directory = directory
        self._keys = keys
        self._events = events
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._plans.enabled

    def plan_of(self, org: Organisation) -> str | None:
        """The org's plan: its own, or the default until it has one; None without plans."""
        return (org.plan or self._plans.default) if self.enabled else None

    def place_new_org(self, org: Organisation) -> Organisation:
        """A new org, before it is stored, on the default plan: its API Gateway key is made and placed first, so its
        keys' requests are counted from the first, and a stage whose usage plans are not deployed refuses the org
        (409 plan_not_deployed) before anything of it is stored."""
        if not self.enabled or org.plan is not None:
            return org
        default = self._plan(self._plans.default or "")
        self._identities.ensure(org.org_id, default.name)
        return replace(org, plan=default.name)

    def start_org(self, org: Organisation) -> Organisation:
        """Put a stored org from before plans were configured on the default plan, as `place_new_org` does."""
        placed = self.place_new_org(org)
        if placed.plan != org.plan and placed.plan is not None:
            self._directory.set_org_plan(org.org_id, placed.plan)
        return placed

    def sync_org(self, org: Organisation) -> bool:
        """`gatekey plans sync`, after the plans were deployed or changed: an org without a plan, or on one the
        configuration no longer has, goes on the default plan; every org's API Gateway key is put (back) into its
        plan's usage plans. Whether the org's plan changed."""
        self._check_enabled()
        if org.plan in self._plans:
            self._identities.ensure(org.org_id, org.plan or "")
            return False
        default = self._plan(self._plans.default or "")
        self._identities.ensure(org.org_id, default.name)
        self._directory.set_org_plan(org.org_id, default.name)
        if org.plan is not None:
            self._announce_change(org.org_id, default.name, org.plan)
        return True

    def ensure_org(self, org_id: str) -> None:
        """Before an org's key is made: the org is on a plan (one read when it is, as it nearly always is)."""
        if not self.enabled:
            return
        org = self._directory.get_org(org_id)
        if org is not None and org.plan is None:
            self.start_org(org)

    def assign_org(self, org_id: str, plan_name: str) -> tuple[Organisation, bool]:
        """Move the org to `plan_name`; (org, whether it changed). Assigning the plan it is on changes nothing."""
        self._check_enabled()
        plan = self._plan(plan_name)
        org = self._directory.get_org(org_id)
        if org is None:
            raise NotFoundError(f"no {mention('organisation', org_id, 'org')}")
        if org.plan == plan.name:
            return org, False
        previous = self.plan_of(org)
        self._identities.ensure(org.org_id, plan.name)
        self._directory.set_org_plan(org.org_id, plan.name)
        changed = replace(org, plan=plan.name)
        self._announce_change(org.org_id, plan.name, previous)
        return changed, True

    def assign_key(self, key_id: str, plan_name: str | None) -> tuple[ApiKey, bool]:
        """Give a key a plan of its own, or (None) take it back to its org's; (key, whether it changed)."""
        self._check_enabled()
        key = self._keys.get(key_id)
        if key is None or key.revoked or key.is_session:
            raise NotFoundError(f"no {mention('key', key_id, 'key')}, or it is revoked")
        if key.plan == plan_name:
            return key, False
        org = self._directory.get_org(key.org_id)
        org_plan = self.plan_of(org) if org else None
        if plan_name is None:
            # Back to the org's key first, so no request finds the key's own API Gateway key gone.
            self._keys.set_plan(key, None)
            self._identities.remove(key.key_id)
        else:
            self._identities.ensure(key.key_id, self._plan(plan_name).name)
            self._keys.set_plan(key, plan_name)
        self._announce_change(key.org_id, plan_name or org_plan, key.plan or org_plan, key_id=key.key_id)
        return replace(key, plan=plan_name), True

    def forget_org(self, org_id: str) -> None:
        """The org is deleted: its API Gateway key goes too."""
        if self.enabled:
            self._identities.remove(org_id)

    def forget_key(self, key: ApiKey) -> None:
        """A key with a plan of its own is revoked: its API Gateway key goes too."""
        if self.enabled and key.plan:
            self._identities.remove(key.key_id)

    def usage(self, caller: Caller, key_id: str | None = None) -> Usage:
        """The org's plan and usage (admins); with `key_id`, the usage that key counts in: its own plan's, if it has
        one, else the org's."""
        if standing_of(caller, self._directory) != "admin":
            raise admin_required("read the organisation's usage")
        org = self._directory.get_org(caller.org_id)
        if org is None:
            raise NotFoundError("the key's organisation no longer exists")
        subject, plan_name = org.org_id, self.plan_of(org)
        if key_id is not None:
            key = self._keys.get_in_org(caller.org_id, key_id)
            if key.is_session:
                raise NotFoundError(f"no {mention('key', key_id, 'key')} in this organisation")
            if key.plan:  # else it counts in the organisation's usage, which is the answer
                subject, plan_name = key.key_id, key.plan
        if plan_name is None or plan_name not in self._plans:
            return Usage(plan=None, subject=subject)
        return self._usage_of(subject, self._plans[plan_name], self._clock())

    def announce_exhausted_quotas(self, now: datetime) -> int:
        """The scheduler's run: a quota.exhausted event for each org (or key with its own plan) that used up its
        quota this period, once per period; how many went out."""
        announced = 0
        for plan in self._plans.by_name.values():
            if plan.quota is None:
                continue
            start, end = plan.quota.period_of(now)
            for api_key_id, days in self._records.daily_usage(plan.name, start.date(), now.date()).items():
                used = sum(days)
                if used < plan.quota.limit:
                    continue
                subject = self._identities.subject_of(api_key_id)
                org_id = self._org_of(subject) if subject else None
                if org_id is None or not self._directory.claim_quota_notice(
                    org_id, subject or "", start, end + timedelta(days=1)
                ):
                    continue
                data = {
                    "org_id": org_id,
                    "key_id": subject if subject and subject != org_id else None,
                    "plan": plan.name,
                    "limit": plan.quota.limit,
                    "period": plan.quota.period,
                    "period_start": to_iso(start),
                    "period_end": to_iso(end),
                    "used": used,
                }
                self._events.announce(new_event("quota.exhausted", org_id, data, now))
                announced += 1
        return announced

    def _usage_of(self, subject: str, plan: Plan, now: datetime) -> Usage:
        today = now.date()
        first_day = today - timedelta(days=USAGE_DAYS - 1)
        period = plan.quota.period_of(now) if plan.quota else None
        if period is not None:
            first_day = min(first_day, period[0].date())
        api_key_id = self._identities.api_key_id(subject)
        counts = self._records.daily_usage(plan.name, first_day, today, api_key_id).get(api_key_id or "", [])
        days = [(first_day + timedelta(days=offset), 0) for offset in range((today - first_day).days + 1)]
        per_day = [(day, counts[index] if index < len(counts) else 0) for index, (day, _) in enumerate(days)]
        daily = tuple(per_day[-USAGE_DAYS:])
        if period is None or plan.quota is None:
            return Usage(plan=plan, subject=subject, daily=daily)
        used = sum(count for day, count in per_day if day >= period[0].date())
        return Usage(
            plan=plan,
            subject=subject,
            period=period,
            used=used,
            remaining=max(0, plan.quota.limit - used),
            daily=daily,
        )

    def _org_of(self, subject: str) -> str | None:
        if subject.startswith("org_"):
            return subject
        key = self._keys.get(subject)
        return key.org_id if key else None

    def _announce_change(
        self, org_id: str, plan: str | None, previous: str | None, *, key_id: str | None = None
    ) -> None:
        data = {"org_id": org_id, "key_id": key_id, "plan": plan, "previous_plan": previous}
        self._events.announce(new_event("plan.changed", org_id, data, self._clock()))

    def _plan(self, name: str) -> Plan:
        if name not in self._plans:
            raise InvalidRequestError(
                f"plan: no plan of that name; the plans are {', '.join(self._plans.names())}", code="unknown_plan"
            )
        return self._plans[name]

    def _check_enabled(self) -> None:
        if not self.enabled:
            raise ConflictError(
                "this deployment has no plans: add [plans.<name>] tables and default_plan to its configuration",
                code="plans_unavailable",
            )
