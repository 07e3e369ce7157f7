"""With an authorizer cache TTL the cached policy still allows only the key's own routes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import RunningGatekey, start_gatekey


@pytest.fixture(scope="module")
def cached_gatekey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGatekey]:
    with start_gatekey(tmp_path_factory.mktemp("cached"), "--authorizer-cache-ttl", "300") as running:
        yield running


def test_cached_policy_is_not_a_blanket_allow(cached_gatekey: RunningGatekey) -> None:
    created = cached_gatekey.create_key(permissions={"products": "read"})
    with cached_gatekey.client(created["secret"]) as client:
        assert client.get("/products").status_code == 200
        assert client.get("/products/p_9").status_code == 200
        assert client.get("/orders").status_code == 403
        assert client.delete("/products/p_9").status_code == 403
        assert client.get("/v1/keys").status_code == 403


def test_hmac_keys_are_refused_while_authorizer_results_are_cached(cached_gatekey: RunningGatekey) -> None:
    """A cached answer is keyed on the Authorization header, which a signed request does not carry."""
    with cached_gatekey.admin() as admin:
        response = admin.post("/v1/keys", json={"label": "signer", "auth_mode": "hmac"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "hmac_unavailable"
    assert "auth_mode" in response.json()["error"]["message"]
