"""The Polytomic workflow (DESIGN §6) driven through the Python SDK against a real `gatekey serve`."""

from __future__ import annotations

from gatekey.client import BearerAuth, GatekeyClient
from tests.e2e.server import RunningGatekey


def test_the_sdk_runs_the_partner_workflow_and_names_the_connection(gatekey: RunningGatekey) -> None:
    """Partner makes an org, its admin and their key; that key makes a main key; a connection token shows in `me`."""
    with GatekeyClient(gatekey.url, BearerAuth(gatekey.partner_token)) as partner:
        org = partner.create_org(name="Widget Co", idempotency_key="widget-co")
        user = partner.create_org_user(org.id, email="admin@widget.example", name="Widget admin", role="admin")
        key = partner.create_org_user_key(
            org.id, user.id, label="first key", permissions={"keys": "write", "products": "read"}
        )
        assert partner.create_org(name="Widget Co", idempotency_key="widget-co").id == org.id
        assert org.id in {listed.id for listed in partner.iter_orgs(limit=1)}
    assert (user.org_id, user.role) == (org.id, "admin")
    assert (key.org_id, key.type, key.user_id) == (org.id, "personal", user.id)

    with GatekeyClient(gatekey.url, BearerAuth(key.secret)) as customer_admin:
        me = customer_admin.me()
        assert me.user is not None
        assert (me.org.id, me.org.name, me.user.id) == (org.id, "Widget Co", user.id)
        made = customer_admin.create_key(label="their integration", permissions={"products": "read"})
    assert (made.org_id, made.type, made.created_by) == (org.id, "main", user.id)

    with GatekeyClient(gatekey.url, BearerAuth(gatekey.admin_token)) as admin:
        connection = admin.create_connection(provider_slug="hubspot", end_user_id="end-user-42")
        me = admin.me(connection_token=connection.connection_token)
        assert admin.me().connection is None
    assert me.connection is not None
    assert (me.connection.id, me.connection.provider_slug, me.connection.end_user_id) == (
        connection.id,
        "hubspot",
        "end-user-42",
    )
