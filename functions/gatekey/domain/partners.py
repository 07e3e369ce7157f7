"""Partner keys (DESIGN §6, Polytomic): create customer orgs, their users, and those users' keys; nothing else.

A customer org belongs to the partner's org (`partner_id`), so every partner key of that org manages it,
and a new partner key (or a rotated one) keeps managing the orgs made before it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gatekey.domain.api_keys import ApiKey
from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Directory, Organisation, User
from gatekey.domain.errors import ForbiddenError, NotFoundError
from gatekey.domain.ids import mention, new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.domain.plan_assignment import PlanAssignment
from gatekey.domain.tokens import Token
from gatekey.domain.users import NewUser, UserAdministration
from gatekey.domain.webhooks import WebhookRegistry


class PartnerOrgs:
    def __init__(
        self,
        directory: Directory,
        users: UserAdministration,
        keys: KeyLifecycle,
        webhooks: WebhookRegistry,
        plans: PlanAssignment,
        *,
        default_key_limit: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._directory = directory
        self._users = users
        self._keys = keys
        self._webhooks = webhooks
        self._plans = plans
        self._default_key_limit = default_key_limit
        self._clock = clock

    def create_org(self, partner: Caller, name: str, key_limit: int | None = None) -> Organisation:
        _check_partner(partner)
        org = Organisation(
            org_id=new_id("org"),
            name=name,
            key_limit=key_limit or self._default_key_limit,
            created_at=self._clock(),
            partner_id=partner.org_id,
        )
        org = self._plans.place_new_org(org)
        self._directory.create_org(org)
        return org

    def list_orgs(
        self, partner: Caller, limit: int, after: dict[str, str] | None
    ) -> tuple[list[Organisation], dict[str, str] | None]:
        _check_partner(partner)
        return self._directory.list_partner_orgs(partner.org_id, limit, after)

    def get_org(self, partner: Caller, org_id: str) -> Organisation:
        return self._customer_org(partner, org_id)

    def delete_org(self, partner: Caller, org_id: str) -> Organisation:
        """Delete a customer org: its keys first (their tokens fail from the next request), then users, then it."""
        org = self._customer_org(partner, org_id, including_deleted=True)
        self._directory.mark_org_deleted(org.org_id, self._clock())  # no new keys or users from now on
        self._keys.delete_all(org.org_id)
        self._webhooks.delete_all(org.org_id)
        for user in self._directory.all_users(org.org_id):  # their keys went with the org's
            self._users.remove(user)
        self._plans.forget_org(org.org_id)
        self._directory.delete_org(org.org_id)
        return org

    def set_plan(self, partner: Caller, org_id: str, plan: str) -> tuple[Organisation, bool]:
        """Put one of the partner's orgs on a plan (DESIGN §13); the plan it is on already changes nothing."""
        org = self._customer_org(partner, org_id)
        return self._plans.assign_org(org.org_id, plan)

    def add_user(self, partner: Caller, org_id: str, request: NewUser) -> User:
        org = self._customer_org(partner, org_id)
        return self._users.add_to_org(org.org_id, request)

    def mint_user_key(self, partner: Caller, org_id: str, user_id: str, request: NewKey) -> tuple[ApiKey, Token]:
        """A personal key for a user of a customer org; the partner may grant it anything of the catalog."""
        org = self._customer_org(partner, org_id)
        if self._directory.get_user(org.org_id, user_id) is None:
            raise NotFoundError(f"no {mention('user', user_id, 'usr')} in organisation '{org_id}'")
        return self._keys.create_for_customer(partner, org.org_id, user_id, request, created_by=partner.key_id)

    def _customer_org(self, partner: Caller, org_id: str, *, including_deleted: bool = False) -> Organisation:
        """One of the partner's orgs; any other org, existing or not, is a 404."""
        _check_partner(partner)
        org = self._directory.get_org(org_id, including_deleted=including_deleted)
        if org is None or org.partner_id != partner.org_id:
            raise NotFoundError(f"no {mention('organisation', org_id, 'org')}")
        return org


def _check_partner(caller: Caller) -> None:
    if caller.key_type != "partner":
        raise ForbiddenError("only partner keys manage organisations")
