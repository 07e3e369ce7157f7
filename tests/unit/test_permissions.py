"""Permission catalog, route → permission mapping and the policy routes of DESIGN §5."""

import pytest

from gatekey.domain.permissions import (
    ANY_VALID_KEY,
    DEFAULT_CATALOG,
    InvalidPermissionsError,
    Level,
    exceeding,
    granted_routes,
    is_allowed,
    parse_permissions,
    required_permission,
)


def test_write_includes_read() -> None:
    held = {"products": Level.WRITE}
    assert is_allowed(held, "GET", "/products")
    assert is_allowed(held, "DELETE", "/products/p_1")


def test_read_does_not_include_write() -> None:
    held = {"products": Level.READ}
    assert is_allowed(held, "HEAD", "/products/p_1")
    assert not is_allowed(held, "POST", "/products")


@pytest.mark.parametrize(
    ("method", "path", "resource", "level"),
    [
        ("GET", "/v1/keys", "keys", Level.READ),
        ("POST", "/v2/keys/key_x/rotate", "keys", Level.WRITE),
        ("PATCH", "/orders/o_1", "orders", Level.WRITE),
        ("POST", "/licenses/lic_1/verify", "licenses", Level.READ),  # explicit override
        ("POST", "/orders/o_1/retry", "orders", Level.WRITE),
        ("GET", "/v1/me", ANY_VALID_KEY, Level.NONE),
    ],
)
def test_route_maps_to_permission(method: str, path: str, resource: str, level: Level) -> None:
    needed = required_permission(method, path)
    assert needed is not None
    assert (needed.resource, needed.level) == (resource, level)


@pytest.mark.parametrize("path", ["/", "/v1", "/unknown", "/v1/nothing/here", "/version/products"])
def test_route_outside_the_catalog_is_denied(path: str) -> None:
    assert not is_allowed(dict(DEFAULT_CATALOG), "GET", path)


def test_unknown_resource_or_level_or_too_high_level_is_rejected() -> None:
    with pytest.raises(InvalidPermissionsError, match="unknown permission resource 'teleport'"):
        parse_permissions({"teleport": "read"})
    with pytest.raises(InvalidPermissionsError, match="'read' or 'write'"):
        parse_permissions({"products": "admin"})
    with pytest.raises(InvalidPermissionsError, match="'customers' allows at most 'read'"):
        parse_permissions({"customers": "write"})
    with pytest.raises(InvalidPermissionsError, match="unknown permission resource 'orgs'"):
        parse_permissions({"orgs": "write"})  # partner keys only


def test_nobody_grants_more_than_they_hold() -> None:
    held = {"products": Level.READ, "keys": Level.WRITE}
    assert exceeding({"products": Level.WRITE, "keys": Level.READ, "orders": Level.READ}, held) == [
        "orders",
        "products",
    ]
    assert exceeding({"products": Level.READ}, held) == []


def test_policy_routes_name_only_what_the_key_grants() -> None:
    routes = set(granted_routes({"products": Level.READ, "keys": Level.WRITE}))
    assert ("GET", "/products/*") in routes
    assert ("*", "/products") not in routes
    assert ("*", "/v1/keys/*") in routes
    assert ("GET", "/v1/me") in routes
    assert not any(path.startswith("/orders") for _, path in routes)
    assert ("POST", "/licenses/*/verify") not in routes


def test_licenses_read_grants_the_verify_route() -> None:
    assert ("POST", "/licenses/*/verify") in granted_routes({"licenses": Level.READ})
