"""Founding an organisation: its admin user, an admin main key holding every permission, and a partner key.

`gatekey serve` founds "Demo Store" on every start; `gatekey bootstrap` founds a deployed stage's first org,
once (a marker item in the directory table refuses a second run).
"""

from __future__ import annotations

from dataclasses import dataclass

from gatekey.api import services
from gatekey.domain.clock import utc_now
from gatekey.domain.console_access import Invitation
from gatekey.domain.directory import Organisation, User
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, NewKey

FOUNDER_KEY_ID = "bootstrap"  # `created_by` of the keys bootstrapping mints


@dataclass(frozen=True)
class FoundedOrg:
    org: Organisation
    admin: User
    admin_key_id: str
    admin_token: str
    partner_key_id: str
    partner_token: str


class AlreadyBootstrappedError(Exception):
    """The stage has its first org already; bootstrapping again would create a second one."""


def found_org(name: str, admin_email: str, admin_name: str) -> FoundedOrg:
    now = utc_now()
    org = Organisation(org_id=new_id("org"), name=name, key_limit=services.settings().default_key_limit, created_at=now)
    admin = User(
        user_id=new_id("usr"), org_id=org.org_id, email=admin_email, name=admin_name, role="admin", created_at=now
    )
    org = services.plan_assignment().place_new_org(org)
    directory = services.directory()
    directory.create_org(org)
    directory.create_user(admin)
    founder = _founder(org.org_id, admin.user_id)
    everything = founder.permissions
    lifecycle = services.key_lifecycle()
    admin_key, admin_token = lifecycle.create(
        founder, NewKey(label=f"{name} admin key", type="main", permissions=everything)
    )
    partner_key, partner_token = lifecycle.create_partner_key(
        org.org_id, label=f"{name} partner key", created_by=admin.user_id
    )
    return FoundedOrg(
        org=org,
        admin=admin,
        admin_key_id=admin_key.key_id,
        admin_token=admin_token.value,
        partner_key_id=partner_key.key_id,
        partner_token=partner_token.value,
    )


def _founder(org_id: str, admin_user_id: str) -> Caller:
    """Who founding acts as: a main key holding everything (an admin's standing), which exists only in this call."""
    everything = services.configuration().catalog.everything()
    return Caller(key_id=FOUNDER_KEY_ID, org_id=org_id, user_id=admin_user_id, key_type="main", permissions=everything)


def invite_admin(founded: FoundedOrg) -> Invitation:
    """The founding admin's invitation to the console (a deployed stage's first admin sets a password there)."""
    return services.console_access().invite_as_operator(founded.admin)


def give_admin_password(founded: FoundedOrg, password: str) -> None:
    """The founding admin's console password, set directly (`gatekey serve`, on the developer's machine)."""
    services.console_access().set_password(founded.admin, password)


def bootstrap_stage(name: str, admin_email: str, admin_name: str) -> FoundedOrg:
    """Found the stage's first org, unless it has one: raises AlreadyBootstrappedError then."""
    directory = services.directory()
    if not directory.claim_bootstrap(utc_now()):
        raise AlreadyBootstrappedError("this stage was bootstrapped already")
    try:
        founded = found_org(name, admin_email, admin_name)
    except BaseException:
        directory.release_bootstrap()  # nothing usable was made: let a later run try again
        raise
    directory.record_bootstrapped_org(founded.org.org_id)
    return founded
