"""The permission catalog, what a key's permissions cover, and which permission a route needs (DESIGN §5)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2  # write includes read

    @classmethod
    def parse(cls, text: str) -> Level:
        return {"read": cls.READ, "write": cls.WRITE}[text]

    @property
    def label(self) -> str:
        return self.name.lower()


# resource -> the highest level the catalog allows on it.
DEFAULT_CATALOG: dict[str, Level] = {
    "store": Level.WRITE,
    "products": Level.WRITE,
    "categories": Level.WRITE,
    "coupons": Level.WRITE,
    "orders": Level.WRITE,
    "customers": Level.READ,
    "webhooks": Level.WRITE,
    "analytics": Level.READ,
    "payouts": Level.READ,
    "licenses": Level.READ,
    "refunds": Level.WRITE,
    "keys": Level.WRITE,
    "logs": Level.READ,
    "users": Level.WRITE,
    "connections": Level.WRITE,
    "events": Level.READ,
}
PARTNER_ONLY_CATALOG: dict[str, Level] = {"orgs": Level.WRITE}

# The store resources the demo store API serves (DESIGN §7b); Gatekey's own live under /v1.
GATEKEY_RESOURCES = frozenset({"keys", "logs", "users", "connections", "events", "webhooks", "orgs"})
STORE_RESOURCES = tuple(r for r in DEFAULT_CATALOG if r not in GATEKEY_RESOURCES)

READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VERSION_SEGMENT = re.compile(r"^v[0-9]+$")


class InvalidPermissionsError(ValueError):
    """A permissions object names an unknown resource, an unknown level, or a level the catalog forbids."""


Permissions = dict[str, Level]


def parse_permissions(raw: Mapping[str, str], catalog: Mapping[str, Level] = DEFAULT_CATALOG) -> Permissions:
    """Validate a `{resource: "read"|"write"}` object against the catalog."""
    parsed: Permissions = {}
    for resource, level_text in raw.items():
        if resource not in catalog:
            raise InvalidPermissionsError(f"unknown permission resource '{resource}'")
        if level_text not in ("read", "write"):
            raise InvalidPermissionsError(f"permission level for '{resource}' must be 'read' or 'write'")
        level = Level.parse(level_text)
        if level > catalog[resource]:
            raise InvalidPermissionsError(f"'{resource}' allows at most '{catalog[resource].label}'")
        parsed[resource] = level
    return parsed


def render_permissions(permissions: Mapping[str, Level]) -> dict[str, str]:
    return {resource: level.label for resource, level in sorted(permissions.items())}


def full_permissions(catalog: Mapping[str, Level] = DEFAULT_CATALOG) -> Permissions:
    return dict(catalog)


def grants(held: Mapping[str, Level], resource: str, needed: Level) -> bool:
    return held.get(resource, Level.NONE) >= needed


def exceeding(requested: Mapping[str, Level], held: Mapping[str, Level]) -> list[str]:
    """The resources where `requested` asks for more than `held` has: nobody grants more than they hold."""
    return sorted(r for r, level in requested.items() if not grants(held, r, level))


@dataclass(frozen=True)
class RouteRule:
    """An explicit exception to the default method→level rule; `*` stands for one path segment."""

    method: str
    path: str
    resource: str
    level: Level

    def matches(self, method: str, segments: list[str]) -> bool:
        pattern = self.path.strip("/").split("/")
        return (
            method == self.method
            and len(pattern) == len(segments)
            and all(p in ("*", s) for p, s in zip(pattern, segments, strict=True))
        )


ANY_VALID_KEY = "*"  # pseudo-resource of routes that need only a valid key
ROUTE_OVERRIDES: tuple[RouteRule, ...] = (
    RouteRule("POST", "/licenses/*/verify", "licenses", Level.READ),
    RouteRule("GET", "/v1/me", ANY_VALID_KEY, Level.NONE),
)


@dataclass(frozen=True)
class RequiredPermission:
    resource: str
    level: Level


def required_permission(method: str, path: str) -> RequiredPermission | None:
    """What a request needs, or None when it maps to no catalog resource (then it is denied)."""
    method = method.upper()
    segments = [s for s in path.split("/") if s]
    for rule in ROUTE_OVERRIDES:
        if rule.matches(method, segments):
            return RequiredPermission(rule.resource, rule.level)
    if segments and _VERSION_SEGMENT.match(segments[0]):
        segments = segments[1:]
    if not segments or segments[0] not in DEFAULT_CATALOG.keys() | PARTNER_ONLY_CATALOG.keys():
        return None
    if method in READ_METHODS:
        return RequiredPermission(segments[0], Level.READ)
    if method in WRITE_METHODS:
        return RequiredPermission(segments[0], Level.WRITE)
    return None


def is_allowed(held: Mapping[str, Level], method: str, path: str) -> bool:
    needed = required_permission(method, path)
    if needed is None:
        return False
    return needed.resource == ANY_VALID_KEY or grants(held, needed.resource, needed.level)


def _resource_paths(resource: str) -> Iterable[str]:
    prefix = "/v1" if resource in GATEKEY_RESOURCES else ""
    yield f"{prefix}/{resource}"
    yield f"{prefix}/{resource}/*"


def granted_routes(held: Mapping[str, Level]) -> list[tuple[str, str]]:
    """(method, resource path) pairs for an IAM policy allowing exactly what `held` grants.

    API Gateway may cache the authorizer's policy and reuse it for other routes, so the policy names
    routes and never allows everything. In IAM resource patterns `*` also matches across `/`, so verbs
    are always named: a method of `*` would let `*/products/*` match `POST/customers/1/products/2`.
    """
    routes: list[tuple[str, str]] = []
    for resource, level in sorted(held.items()):
        methods = sorted(READ_METHODS | (WRITE_METHODS if level >= Level.WRITE else frozenset()))
        routes.extend((method, path) for method in methods for path in _resource_paths(resource))
    for rule in ROUTE_OVERRIDES:
        if rule.resource == ANY_VALID_KEY or grants(held, rule.resource, rule.level):
            routes.append((rule.method, rule.path))
    return routes
