"""The demo tenant `gatekey serve` starts with: org "Demo Store", its admin user and an all-permissions main key."""

from __future__ import annotations

from dataclasses import dataclass

from gatekey.api import services
from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Organisation, User
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, NewKey
from gatekey.domain.permissions import full_permissions


@dataclass(frozen=True)
class DemoTenant:
    org: Organisation
    admin: User
    admin_key_id: str
    admin_token: str


def bootstrap_demo_tenant() -> DemoTenant:
    now = utc_now()
    settings = services.settings()
    org = Organisation(org_id=new_id("org"), name="Demo Store", key_limit=settings.default_key_limit, created_at=now)
    admin = User(
        user_id=new_id("usr"),
        org_id=org.org_id,
        email="admin@demo-store.example",
        name="Demo Store admin",
        role="admin",
        created_at=now,
    )
    services.directory().create_org(org)
    services.directory().create_user(admin)
    everything = full_permissions()
    founder = Caller(
        key_id="bootstrap", org_id=org.org_id, user_id=admin.user_id, key_type="main", permissions=everything
    )
    key, token = services.key_lifecycle().create(
        founder, NewKey(label="Demo Store admin key", type="main", permissions=everything)
    )
    return DemoTenant(org=org, admin=admin, admin_key_id=key.key_id, admin_token=token.value)
