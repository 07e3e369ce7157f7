"""The organisation's limit of 25 non-revoked keys, through HTTP (in a Gatekey of its own)."""

from __future__ import annotations

from tests.e2e.server import RunningGatekey


def test_the_26th_key_is_refused_until_one_is_revoked(gatekey: RunningGatekey) -> None:
    # The bootstrap admin and partner keys are the org's first two.
    made = [gatekey.create_key(label=f"key {n}")["id"] for n in range(23)]
    with gatekey.admin() as admin:
        refused = admin.post("/v1/keys", json={"label": "the 26th"})
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "key_limit_reached"
        assert admin.delete(f"/v1/keys/{made[0]}").status_code == 200
        assert admin.post("/v1/keys", json={"label": "fits now"}).status_code == 201
