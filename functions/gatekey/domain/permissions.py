"""The permission catalog, what a key's permissions cover, and which permission a route needs (DESIGN §5, §11).

The provider's catalog and route rules come from its configuration file (`gatekey.configuration`); this module
knows only Gatekey's own resources, which every catalog has, and the rules every deployment follows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


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


LEVEL_NAMES = ("read", "write")
READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What API Gateway's ANY stands for; OPTIONS needs no permission of the default rule, so only a route grants it.
HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
VERSION_SEGMENT = re.compile(r"v[0-9]+")
# Gatekey's own API lives under this version segment (DESIGN §7).
GATEKEY_API_VERSION_SEGMENT = "v1"


@dataclass(frozen=True)
class Resource:
    """One entry of the catalog: the highest level a key may hold on it."""

    name: str
    max_level: Level
    description: str = ""
    partner_only: bool = False  # `orgs`: held by partner keys, granted to no other key

    @property
    def own(self) -> bool:
        return self.name in GATEKEY_RESOURCE_NAMES


# Gatekey's own resources are in every catalog and cannot be redefined (DESIGN §11); they live under /v1.
GATEKEY_RESOURCES: tuple[Resource, ...] = (
    Resource("keys", Level.WRITE, "Gatekey: the organisation's API keys"),
    Resource("logs", Level.READ, "Gatekey: the request log"),
    Resource("users", Level.WRITE, "Gatekey: the organisation's users"),
    Resource("connections", Level.WRITE, "Gatekey: end-user connections and their tokens"),
    Resource("events", Level.READ, "Gatekey: the organisation's events"),
    Resource("webhooks", Level.WRITE, "Gatekey: webhooks that receive the events"),
    Resource("orgs", Level.WRITE, "Gatekey: customer organisations (partner keys only)", partner_only=True),
)
GATEKEY_RESOURCE_NAMES = frozenset(resource.name for resource in GATEKEY_RESOURCES)


class InvalidPermissionsError(ValueError):
    """A permissions object names an unknown resource, an unknown level, or a level the catalog forbids."""


Permissions = dict[str, Level]


class Catalog:
    """The resources keys may hold permissions on: the provider's, then Gatekey's own."""

    def __init__(self, provider_resources: Iterable[Resource] = ()) -> None:
        resources = {resource.name: resource for resource in provider_resources}
        clashing = resources.keys() & GATEKEY_RESOURCE_NAMES
        if clashing:
            raise ValueError(f"Gatekey's own resources cannot be redefined: {', '.join(sorted(clashing))}")
        resources.update((resource.name, resource) for resource in GATEKEY_RESOURCES)
        self.resources: Mapping[str, Resource] = resources

    def __contains__(self, name: object) -> bool:
        return name in self.resources

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Catalog) and self.resources == other.resources

    def __hash__(self) -> int:
        return hash(tuple(self.resources.items()))

    @property
    def provider_resources(self) -> tuple[Resource, ...]:
        return tuple(resource for resource in self.resources.values() if not resource.own)

    @property
    def grantable(self) -> tuple[Resource, ...]:
        """What any key but a partner key may hold, in catalog order (what `GET /v1/permissions` lists)."""
        return tuple(resource for resource in self.resources.values() if not resource.partner_only)

    def parse(self, raw: Mapping[str, str]) -> Permissions:
        """Validate a `{resource: "read"|"write"}` object against the grantable part of the catalog."""
        parsed: Permissions = {}
        for name, level_text in raw.items():
            resource = self.resources.get(name)
            if resource is None or resource.partner_only:
                raise InvalidPermissionsError(f"unknown permission resource {_mention(name)}")
            if level_text not in LEVEL_NAMES:
                raise InvalidPermissionsError(f"permission level for '{name}' must be 'read' or 'write'")
            level = Level.parse(level_text)
            if level > resource.max_level:
                raise InvalidPermissionsError(f"'{name}' allows at most '{resource.max_level.label}'")
            parsed[name] = level
        return parsed

    def everything(self) -> Permissions:
        """Every grantable resource at its highest level: what a founding admin key holds."""
        return {resource.name: resource.max_level for resource in self.grantable}

    def partner_permissions(self) -> Permissions:
        """What a partner key holds: the partner-only resources and nothing else."""
        return {resource.name: resource.max_level for resource in self.resources.values() if resource.partner_only}


_RESOURCE_NAME_SHAPE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _mention(name: str) -> str:
    """A name the caller sent, quoted only if it is shaped like a resource name: a pasted token is not repeated."""
    return f"'{name}'" if _RESOURCE_NAME_SHAPE.fullmatch(name) else "(not a resource name)"


def render_permissions(permissions: Mapping[str, Level]) -> dict[str, str]:
    return {resource: level.label for resource, level in sorted(permissions.items())}


def grants(held: Mapping[str, Level], resource: str, needed: Level) -> bool:
    return held.get(resource, Level.NONE) >= needed


def exceeding(requested: Mapping[str, Level], held: Mapping[str, Level]) -> list[str]:
    """The resources where `requested` asks for more than `held` has: nobody grants more than they hold."""
    return sorted(r for r, level in requested.items() if not grants(held, r, level))


def method_level(method: str) -> Level | None:
    """The default rule's level for a method: read for GET/HEAD, write for the others; None for the rest."""
    if method in READ_METHODS:
        return Level.READ
    if method in WRITE_METHODS:
        return Level.WRITE
    return None


class RoutePatternError(ValueError):
    """A route path or method that is not of the form DESIGN §11 describes."""


# Letters, digits, '.', '_' and '-': what an IAM resource pattern (and Powertools' policy builder) takes as is.
_LITERAL_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")


@dataclass(frozen=True)
class RoutePattern:
    """`METHOD /path` where `{name}` is one non-empty segment and a final `{name+}` the rest (one or more)."""

    method: str  # an HTTP method in upper case, or "ANY"
    path: str
    segments: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.method != "ANY" and self.method not in HTTP_METHODS:
            raise RoutePatternError(f"method {self.method!r} is not an HTTP method or ANY")
        if not self.path.startswith("/") or self.path == "/":
            raise RoutePatternError(f"path {self.path!r} must start with / and name at least one segment")
        segments = tuple(self.path[1:].split("/"))
        names: list[str] = []
        for index, segment in enumerate(segments):
            parameter = _PARAMETER.fullmatch(segment)
            if parameter:
                if parameter.group(2) and index != len(segments) - 1:
                    raise RoutePatternError(f"path {self.path!r}: {segment} may only be the last segment")
                if parameter.group(1) in names:
                    raise RoutePatternError(f"path {self.path!r} names {{{parameter.group(1)}}} twice")
                names.append(parameter.group(1))
            elif not _LITERAL_SEGMENT.fullmatch(segment):
                raise RoutePatternError(
                    f"path {self.path!r}: {segment!r} is neither {{name}}, {{name+}} nor letters, digits, '.', '_', '-'"
                )
        object.__setattr__(self, "segments", segments)

    @property
    def methods(self) -> tuple[str, ...]:
        """The HTTP methods it covers: ANY is every method, and a GET route also answers HEAD."""
        if self.method == "ANY":
            return HTTP_METHODS
        return ("GET", "HEAD") if self.method == "GET" else (self.method,)

    def matches(self, method: str, segments: Sequence[str]) -> bool:
        if method not in self.methods:
            return False
        for index, pattern in enumerate(self.segments):
            if _is_greedy(pattern):
                return "/".join(segments[index:]) != ""
            if index >= len(segments) or not segments[index]:
                return False
            if not _is_parameter(pattern) and segments[index] != pattern:
                return False
        return len(segments) == len(self.segments)

    def iam_resource(self, spans: Mapping[int, str] | None = None) -> str:
        """The path as an IAM resource pattern, each parameter `*`; `spans` replaces chosen parameters' text."""
        return "/" + "/".join(
            (spans or {}).get(index, "*") if _is_parameter(segment) else segment
            for index, segment in enumerate(self.segments)
        )

    def iam_overreach(self) -> tuple[str, ...]:
        """IAM patterns of paths that `iam_resource()` matches and this pattern does not: a `{name}` that is
        empty or spans several segments, a `{name+}` that is empty (IAM's `*` matches any text, `/` included)."""
        overreach: list[str] = []
        for index, segment in enumerate(self.segments):
            if _is_greedy(segment):
                overreach.append(self.iam_resource({index: ""}))
            elif _is_parameter(segment):
                overreach.append(self.iam_resource({index: ""}))
                rest = self.segments[index + 1 :]
                # Before parameters that end in `{name+}`, a parameter spanning segments is just another split.
                if not (rest and all(_is_parameter(s) for s in rest) and _is_greedy(rest[-1])):
                    overreach.append(self.iam_resource({index: "*/*"}))
        return tuple(overreach)

    def could_match_under(self, prefix: str, names: Iterable[str]) -> bool:
        """Whether some path `/<prefix>/<one of names>[/...]` matches this pattern's path."""
        wanted = [[prefix], list(names)]
        for index, candidates in enumerate(wanted):
            if index >= len(self.segments):
                return False
            segment = self.segments[index]
            if _is_greedy(segment):
                return True
            if not _is_parameter(segment) and segment not in candidates:
                return False
        return True


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _is_greedy(segment: str) -> bool:
    return segment.endswith("+}")


@dataclass(frozen=True)
class Requirement:
    """What a request needs: a level on a resource, or (resource None) only a valid key."""

    resource: str | None
    level: Level = Level.NONE

    def met_by(self, held: Mapping[str, Level]) -> bool:
        return self.resource is None or grants(held, self.resource, self.level)

    def __str__(self) -> str:
        return "any valid key" if self.resource is None else f"{self.resource}:{self.level.label}"


ANY_VALID_KEY = Requirement(None)


@dataclass(frozen=True)
class RouteRule:
    """An explicit exception to the default method→level rule, checked in order before it."""

    pattern: RoutePattern
    requirement: Requirement


# Gatekey's own routes that need only a valid key; they come before any of the provider's.
GATEKEY_ROUTE_RULES: tuple[RouteRule, ...] = (
    RouteRule(RoutePattern("GET", "/v1/me"), ANY_VALID_KEY),
    RouteRule(RoutePattern("GET", "/v1/permissions"), ANY_VALID_KEY),
    # Signing out of the console: any session may end itself (an API key is answered 404).
    RouteRule(RoutePattern("DELETE", "/v1/sessions/current"), ANY_VALID_KEY),
    # The organisation's plan and usage: the API answers admins only (DESIGN §13).
    RouteRule(RoutePattern("GET", "/v1/usage"), ANY_VALID_KEY),
)


@dataclass(frozen=True)
class PolicyRoutes:
    """What an IAM policy must allow and deny (method, resource path pattern) so a cached answer stays exact."""

    allow: tuple[tuple[str, str], ...]
    deny: tuple[tuple[str, str], ...]

    def document(self, stage_arn: str) -> dict[str, Any]:
        """The IAM policy document for `arn:aws:execute-api:<region>:<account>:<api id>/<stage>`."""
        statements = [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [f"{stage_arn}/{m}{p}" for m, p in routes]}
            for effect, routes in (("Allow", self.allow), ("Deny", self.deny))
            if routes
        ]
        return {"Version": "2012-10-17", "Statement": statements}


class AccessRules:
    """Which permission each request needs (DESIGN §5): explicit route rules first, then the default rule."""

    def __init__(
        self,
        catalog: Catalog,
        routes: Sequence[RouteRule] = (),
        *,
        versions: Sequence[str] = (GATEKEY_API_VERSION_SEGMENT,),
    ) -> None:
        self.catalog = catalog
        self.routes = (*GATEKEY_ROUTE_RULES, *routes)
        self.versions = tuple(versions)

    def required(self, method: str, path: str) -> Requirement | None:
        """What a request needs, or None when it maps to no catalog resource (then it is denied)."""
        method = method.upper()
        segments = path.split("/")[1:] if path.startswith("/") else []
        for rule in self.routes:
            if rule.pattern.matches(method, segments):
                return rule.requirement
        if segments and VERSION_SEGMENT.fullmatch(segments[0]):
            segments = segments[1:]
        level = method_level(method)
        if not segments or level is None or segments[0] not in self.catalog:
            return None
        return Requirement(segments[0], level)

    def allows(self, held: Mapping[str, Level], method: str, path: str, *, console_session: bool = False) -> bool:
        """Whether `held` meets the request's requirement. A console session holds the provider's permissions only to
        grant them to keys: it may use Gatekey's own routes alone."""
        needed = self.required(method, path)
        if needed is None:
            return False
        if console_session and needed.resource is not None and needed.resource not in GATEKEY_RESOURCE_NAMES:
            return False
        return needed.met_by(held)

    def policy_routes(self, held: Mapping[str, Level]) -> PolicyRoutes:
        """The routes `held` grants, as IAM patterns, for a policy API Gateway may cache and reuse.

        IAM's `*` matches across `/`, so every verb is named, and a `{name}` parameter written `*` would also
        match several segments: where the rule would refuse those longer paths, they are denied explicitly
        (a Deny wins over any Allow). A route rule the key does not satisfy is denied the same way. What IAM
        cannot say exactly is refused rather than allowed: never more than the rule, at worst less.
        """
        allow: list[tuple[str, str]] = []
        deny: list[tuple[str, str]] = []
        for resource, level in sorted(held.items()):
            if resource not in self.catalog:
                continue  # left out of a catalog since the key was made: it grants nothing
            methods = sorted(READ_METHODS | (WRITE_METHODS if level >= Level.WRITE else frozenset()))
            for prefix in self._prefixes(resource):
                allow.extend((method, f"{prefix}/{resource}{tail}") for method in methods for tail in ("", "/*"))
        for rule in self.routes:
            pattern = rule.pattern
            if not rule.requirement.met_by(held):
                deny.extend((method, pattern.iam_resource()) for method in pattern.methods)
                continue
            allow.extend((method, pattern.iam_resource()) for method in pattern.methods)
            for method in pattern.methods:
                if not self._default_rule_grants_paths_of(pattern, method, held):
                    deny.extend((method, overreach) for overreach in pattern.iam_overreach())
        return PolicyRoutes(tuple(dict.fromkeys(allow)), tuple(dict.fromkeys(deny)))

    def _prefixes(self, resource: str) -> tuple[str, ...]:
        if resource in GATEKEY_RESOURCE_NAMES:
            return (f"/{GATEKEY_API_VERSION_SEGMENT}",)
        return ("", *(f"/{version}" for version in self.versions))

    def _default_rule_grants_paths_of(self, pattern: RoutePattern, method: str, held: Mapping[str, Level]) -> bool:
        """Whether the default rule grants every path the pattern's IAM form overreaches to: only when the
        pattern starts with a literal catalog resource the key holds at the method's level."""
        literal = list(pattern.segments)
        if literal and VERSION_SEGMENT.fullmatch(literal[0]):
            literal = literal[1:]
        level = method_level(method)
        if not literal or _is_parameter(literal[0]) or level is None:
            return False
        return grants(held, literal[0], level)
