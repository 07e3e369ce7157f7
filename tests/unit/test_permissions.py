"""Permission catalog, route → permission mapping and the policy routes of DESIGN §5."""

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerResponse

from gatekey.domain.permissions import (
    ANY_VALID_KEY,
    DEFAULT_CATALOG,
    GATEKEY_RESOURCES,
    InvalidPermissionsError,
    Level,
    exceeding,
    granted_routes,
    is_allowed,
    parse_permissions,
    required_permission,
)
from gatekey.local.policy import is_allowed as policy_allows


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
    assert ("POST", "/products") not in routes
    assert ("DELETE", "/v1/keys/*") in routes
    assert all(method != "*" for method, _ in routes)
    assert ("GET", "/v1/me") in routes
    assert not any(path.startswith("/orders") for _, path in routes)
    assert ("POST", "/licenses/*/verify") not in routes


def test_licenses_read_grants_the_verify_route() -> None:
    assert ("POST", "/licenses/*/verify") in granted_routes({"licenses": Level.READ})


def _policy_for(held: dict[str, Level]) -> dict[str, object]:
    response = APIGatewayAuthorizerResponse("key_x", "us-east-1", "123456789012", "api", "stage")
    for method, path in granted_routes(held):
        response.allow_route(http_method=method, resource=path)
    return response.asdict()


PROBE_PATHS = [
    f"{prefix}/{resource}{suffix}"
    for resource in [*DEFAULT_CATALOG, "unknown"]
    for prefix in ("", "/v1")
    for suffix in ("", "/id_1", "/id_1/verify", "/id_1/retry")
] + ["/v1/me", "/", "/v1"]


@pytest.mark.parametrize("level", [Level.READ, Level.WRITE])
@pytest.mark.parametrize("resource", sorted(DEFAULT_CATALOG))
def test_policy_allows_exactly_what_the_route_rules_allow(resource: str, level: Level) -> None:
    """granted_routes (what API Gateway enforces) and required_permission (the rule) never disagree."""
    if level > DEFAULT_CATALOG[resource]:
        return
    held = {resource: level}
    policy = _policy_for(held)
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        for path in PROBE_PATHS:
            arn = f"arn:aws:execute-api:us-east-1:123456789012:api/stage/{method}{path}"
            # Each resource lives at one place: Gatekey's own under /v1, the store's at the root.
            served_here = path.startswith("/v1") == (resource in GATEKEY_RESOURCES) or path == "/v1/me"
            expected = is_allowed(held, method, path) and served_here
            assert policy_allows(policy, arn) == expected, (method, path)
