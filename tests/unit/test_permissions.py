"""The catalog, the route rule of DESIGN §5 and the policies that carry it to API Gateway."""

from __future__ import annotations

import itertools

import pytest

from gatekey.configuration import load_configuration, parse_configuration
from gatekey.domain.permissions import (
    ANY_VALID_KEY,
    HTTP_METHODS,
    AccessRules,
    InvalidPermissionsError,
    Level,
    Requirement,
    exceeding,
)
from gatekey.local.policy import is_allowed as policy_allows

DEMO = load_configuration()  # the demo store's: DESIGN §5's default catalog
rules = DEMO.access


def test_write_includes_read() -> None:
    held = {"products": Level.WRITE}
    assert rules.allows(held, "GET", "/products")
    assert rules.allows(held, "DELETE", "/products/p_1")


def test_read_does_not_include_write() -> None:
    held = {"products": Level.READ}
    assert rules.allows(held, "HEAD", "/products/p_1")
    assert not rules.allows(held, "POST", "/products")


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "/v1/keys", Requirement("keys", Level.READ)),
        ("POST", "/v2/keys/key_x/rotate", Requirement("keys", Level.WRITE)),
        ("PATCH", "/orders/o_1", Requirement("orders", Level.WRITE)),
        ("POST", "/licenses/lic_1/verify", Requirement("licenses", Level.READ)),  # the demo store's route rule
        ("POST", "/orders/o_1/retry", Requirement("orders", Level.WRITE)),
        ("GET", "/v1/me", ANY_VALID_KEY),
        ("HEAD", "/v1/me", ANY_VALID_KEY),
        ("GET", "/v1/permissions", ANY_VALID_KEY),
    ],
)
def test_route_maps_to_permission(method: str, path: str, needed: Requirement) -> None:
    assert rules.required(method, path) == needed


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/v1"),
        ("GET", "/unknown"),
        ("GET", "/v1/nothing/here"),
        ("GET", "/version/products"),
        ("GET", "//products"),
        ("OPTIONS", "/products"),
        ("GET", "/v1/orgs"),  # partner keys hold orgs; the catalog grants it to nobody else
        ("POST", "/licenses/lic_1/lic_2/verify"),  # {id} is one segment: the default rule asks for write
    ],
)
def test_route_outside_the_catalog_is_denied(method: str, path: str) -> None:
    assert not rules.allows(DEMO.catalog.everything(), method, path)


def test_unknown_resource_or_level_or_too_high_level_is_rejected() -> None:
    with pytest.raises(InvalidPermissionsError, match="unknown permission resource 'teleport'"):
        DEMO.catalog.parse({"teleport": "read"})
    with pytest.raises(InvalidPermissionsError, match="'read' or 'write'"):
        DEMO.catalog.parse({"products": "admin"})
    with pytest.raises(InvalidPermissionsError, match="'customers' allows at most 'read'"):
        DEMO.catalog.parse({"customers": "write"})
    with pytest.raises(InvalidPermissionsError, match="unknown permission resource 'orgs'"):
        DEMO.catalog.parse({"orgs": "write"})  # partner keys only


def test_nobody_grants_more_than_they_hold() -> None:
    held = {"products": Level.READ, "keys": Level.WRITE}
    assert exceeding({"products": Level.WRITE, "keys": Level.READ, "orders": Level.READ}, held) == [
        "orders",
        "products",
    ]
    assert exceeding({"products": Level.READ}, held) == []


def test_a_founding_key_holds_the_whole_grantable_catalog_and_a_partner_key_only_orgs() -> None:
    everything = DEMO.catalog.everything()
    assert everything["products"] == Level.WRITE and everything["customers"] == Level.READ
    assert everything["keys"] == Level.WRITE and "orgs" not in everything
    assert DEMO.catalog.partner_permissions() == {"orgs": Level.WRITE}


def test_policy_routes_name_only_what_the_key_grants() -> None:
    routes = rules.policy_routes({"products": Level.READ, "keys": Level.WRITE})
    assert ("GET", "/products/*") in routes.allow
    assert ("GET", "/v1/products/*") in routes.allow  # versions default to v1
    assert ("POST", "/products") not in routes.allow
    assert ("DELETE", "/v1/keys/*") in routes.allow
    assert ("GET", "/v1/me") in routes.allow
    assert not any(path.startswith("/orders") for _, path in routes.allow)
    assert ("POST", "/licenses/*/verify") in routes.deny  # a route rule the key does not meet


# A provider's file exercising every kind of route rule, with the versions a cached policy names.
PROVIDER = parse_configuration(
    {
        "versions": ["v1"],
        "permissions": {"invoices": "write", "customers": "read", "reports": "read"},
        "routes": [
            {"method": "POST", "path": "/invoices/{id}/send", "permission": "invoices:read"},  # looser
            {"method": "GET", "path": "/invoices/{id}/pdf", "permission": "invoices:write"},  # stricter
            {"method": "ANY", "path": "/reports/{tenant}/{rest+}", "permission": "customers:read"},
            {"method": "GET", "path": "/{tenant}/summary", "permission": "reports:read"},
            {"method": "GET", "path": "/status", "public": True},
        ],
    },
    "provider.toml",
)
SEGMENTS = ["invoices", "reports", "v1", "keys", "send", "pdf", "summary", ""]
PROBES = sorted(
    {"/" + "/".join(parts) for length in range(1, 5) for parts in itertools.product(SEGMENTS, repeat=length)}
)
HELD_SETS = [
    {},
    {"invoices": Level.READ},
    {"invoices": Level.WRITE},
    {"customers": Level.READ},
    {"reports": Level.READ},
    {"invoices": Level.READ, "customers": Level.READ, "keys": Level.READ},
    {"invoices": Level.WRITE, "customers": Level.READ, "reports": Level.READ, "keys": Level.WRITE},
]


STAGE_ARN = "arn:aws:execute-api:us-east-1:123456789012:api/stage"


def _cacheable_policy(access: AccessRules, held: dict[str, Level]) -> dict[str, object]:
    return {"principalId": "key_x", "policyDocument": access.policy_routes(held).document(STAGE_ARN)}


def _arn(method: str, path: str) -> str:
    return f"{STAGE_ARN}/{method}{path}"


@pytest.mark.parametrize("held", HELD_SETS, ids=lambda held: ",".join(f"{r}:{v.label}" for r, v in held.items()))
def test_a_cacheable_policy_never_allows_what_the_route_rule_refuses(held: dict[str, Level]) -> None:
    """Over 8^4 paths and every method: IAM's wildcards are wider than `{name}`, the Deny statements close that."""
    policy = _cacheable_policy(PROVIDER.access, held)
    over = [
        (method, path)
        for method in HTTP_METHODS
        for path in PROBES
        if policy_allows(policy, _arn(method, path)) and not PROVIDER.access.allows(held, method, path)
    ]
    assert over == []


@pytest.mark.parametrize(
    ("held", "method", "path"),
    [
        ({"invoices": Level.READ}, "GET", "/invoices"),
        ({"invoices": Level.READ}, "HEAD", "/v1/invoices/inv_1"),
        ({"invoices": Level.READ}, "POST", "/invoices/inv_1/send"),
        ({"invoices": Level.WRITE}, "GET", "/invoices/inv_1/pdf"),
        ({"invoices": Level.WRITE}, "POST", "/invoices/inv_1/a/send"),
        ({"customers": Level.READ}, "DELETE", "/reports/acme/2026/q1"),
        ({"reports": Level.READ}, "GET", "/acme/summary"),
        ({"keys": Level.READ}, "GET", "/v1/keys/key_1"),
        ({}, "GET", "/v1/me"),
    ],
)
def test_a_cacheable_policy_allows_the_routes_the_key_is_granted(
    held: dict[str, Level], method: str, path: str
) -> None:
    assert PROVIDER.access.allows(held, method, path)
    assert policy_allows(_cacheable_policy(PROVIDER.access, held), _arn(method, path))


@pytest.mark.parametrize(
    ("held", "method", "path"),
    [
        ({"invoices": Level.READ}, "POST", "/invoices/inv_1"),
        ({"invoices": Level.READ}, "POST", "/invoices/inv_1/a/send"),  # {id} spans two segments: default rule
        ({"invoices": Level.READ}, "POST", "/invoices//send"),
        ({"invoices": Level.READ}, "GET", "/invoices/inv_1/pdf"),  # the stricter route rule
        ({"reports": Level.READ}, "GET", "/customers/c_1/summary"),
        ({"customers": Level.READ}, "GET", "/reports/acme/"),
        ({"reports": Level.READ}, "GET", "/v1/keys/summary"),
        ({"invoices": Level.WRITE}, "GET", "/status"),  # public: the authorizer is not even asked
    ],
)
def test_the_route_rule_refuses(held: dict[str, Level], method: str, path: str) -> None:
    assert not PROVIDER.access.allows(held, method, path)
    assert not policy_allows(_cacheable_policy(PROVIDER.access, held), _arn(method, path))


def test_the_demo_store_policy_never_allows_what_the_rule_refuses() -> None:
    held = DEMO.catalog.everything()
    policy = _cacheable_policy(rules, held)
    paths = [f"/{a}/{b}/{c}" for a, b, c in itertools.product(["v1", "products", "licenses", "keys", "x"], repeat=3)]
    for method in HTTP_METHODS:
        for path in ["/products", "/v1/keys", *paths]:
            if policy_allows(policy, _arn(method, path)):
                assert rules.allows(held, method, path), (method, path)
