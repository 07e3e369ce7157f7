"""The provider's configuration file (DESIGN §11, §13): its permission catalog, route rules, public routes and plans.

One module reads the file into frozen, typed objects, checking all of it and naming file, entry and problem
for each mistake; everything else receives those objects. `gatekey serve --config` and the CDK construct read
the TOML file; the construct ships it to the functions as JSON (the same document, checked again on load), so
a cold start need not import a TOML parser. Without a file, the demo store's configuration applies.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gatekey.domain.permissions import (
    GATEKEY_API_VERSION_SEGMENT,
    GATEKEY_RESOURCE_NAMES,
    LEVEL_NAMES,
    VERSION_SEGMENT,
    AccessRules,
    Catalog,
    Level,
    Requirement,
    Resource,
    RoutePattern,
    RoutePatternError,
    RouteRule,
)
from gatekey.domain.plans import MAX_BURST, MAX_RATE, NO_PLANS, QUOTA_PERIODS, Plan, Plans, Quota

CONFIG_FILE_ENV_VAR = "GATEKEY_CONFIG_FILE"
# The demo store's configuration (its catalog is DESIGN §5's default), used when no file is named.
DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent / "handlers" / "store_demo.toml"

_RESOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_MAX_DESCRIPTION = 200
_TOP_LEVEL = frozenset({"permissions", "routes", "versions", "plans", "default_plan"})
_PLAN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class ConfigurationError(Exception):
    """The file cannot be used; each problem is one line naming the file, the entry and what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class GatekeyConfiguration:
    source: str  # the file it came from, as errors name it
    document: Mapping[str, Any]  # what the file says, as parsed: the construct ships this to the functions
    catalog: Catalog
    access: AccessRules
    public_routes: tuple[RoutePattern, ...]
    plans: Plans = NO_PLANS

    def to_json(self) -> str:
        return json.dumps(self.document, sort_keys=True, separators=(",", ":"))


def load_configuration(path: str | Path | None = None) -> GatekeyConfiguration:
    """Read and check a configuration file: TOML, or the JSON form the construct ships to the functions."""
    file = Path(path) if path is not None else DEFAULT_CONFIG_FILE
    source = file.name if path is None else str(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigurationError([f"{source}: cannot read it: {reason}"]) from None
    if file.suffix == ".json":
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ConfigurationError([f"{source}: not JSON: {error}"]) from None
    else:
        import tomllib  # only where a TOML file is read: deployed functions read the JSON form

        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError([f"{source}: not valid TOML: {error}"]) from None
    if not isinstance(document, dict):
        raise ConfigurationError([f"{source}: the document must be a table"])
    return parse_configuration(document, source)


@lru_cache(maxsize=1)
def active_configuration() -> GatekeyConfiguration:
    """The configuration this process was deployed with ($GATEKEY_CONFIG_FILE), else the demo store's."""
    return load_configuration(os.environ.get(CONFIG_FILE_ENV_VAR) or None)


def parse_configuration(document: Mapping[str, Any], source: str) -> GatekeyConfiguration:
    problems = _Problems(source)
    for name in sorted(set(document) - _TOP_LEVEL):
        problems.add(name, "unknown entry (expected permissions, routes, versions, plans, default_plan)")
    resources = _resources(document.get("permissions", {}), problems)
    catalog = Catalog(resources)
    routes, public = _routes(document.get("routes", []), catalog, problems)
    versions = _versions(document.get("versions", [GATEKEY_API_VERSION_SEGMENT]), problems)
    plans = _plans(document.get("plans", {}), document.get("default_plan"), problems)
    problems.raise_if_any()
    return GatekeyConfiguration(
        source=source,
        document=dict(document),
        catalog=catalog,
        access=AccessRules(catalog, routes, versions=versions),
        public_routes=tuple(public),
        plans=plans,
    )


class _Problems:
    def __init__(self, source: str) -> None:
        self._source = source
        self._lines: list[str] = []

    def add(self, entry: str, problem: str) -> None:
        self._lines.append(f"{self._source}: {entry}: {problem}")

    def raise_if_any(self) -> None:
        if self._lines:
            raise ConfigurationError(self._lines)


def _resources(table: object, problems: _Problems) -> list[Resource]:
    if not isinstance(table, Mapping):
        problems.add("permissions", "must be a table of resource = level")
        return []
    resources = []
    for name, value in table.items():
        entry = f"permissions.{name}"
        if name in GATEKEY_RESOURCE_NAMES:
            problems.add(entry, f"'{name}' is one of Gatekey's own resources and cannot be redefined")
            continue
        if VERSION_SEGMENT.fullmatch(name):
            problems.add(entry, f"'{name}' is a version segment, which the route rule skips: name the resource")
            continue
        if not _RESOURCE_NAME.fullmatch(name):
            problems.add(entry, "a resource name is 1-64 lowercase letters, digits, '-' or '_', as in a path")
            continue
        resource = _resource(name, value, entry, problems)
        if resource is not None:
            resources.append(resource)
    return resources


def _resource(name: str, value: object, entry: str, problems: _Problems) -> Resource | None:
    description: object = ""
    if isinstance(value, Mapping):
        for unknown in sorted(set(value) - {"level", "description"}):
            problems.add(f"{entry}.{unknown}", "unknown entry (expected level, description)")
        level, description = value.get("level"), value.get("description", "")
    else:
        level = value
    if level not in LEVEL_NAMES:
        problems.add(entry, f"unknown level {level!r}: use 'read' or 'write'")
        return None
    if not isinstance(description, str) or len(description) > _MAX_DESCRIPTION:
        problems.add(f"{entry}.description", f"must be text of at most {_MAX_DESCRIPTION} characters")
        return None
    return Resource(name, Level.parse(str(level)), description)


def _routes(entries: object, catalog: Catalog, problems: _Problems) -> tuple[list[RouteRule], list[RoutePattern]]:
    if not isinstance(entries, list):
        problems.add("routes", "must be an array of tables ([[routes]])")
        return [], []
    rules: list[RouteRule] = []
    public: list[RoutePattern] = []
    seen: dict[tuple[str, str], int] = {}
    for index, route in enumerate(entries):
        entry = f"routes[{index}]"
        if not isinstance(route, Mapping):
            problems.add(entry, "must be a table with method, path and permission or public")
            continue
        entry = f"routes[{index}] ({route.get('method')} {route.get('path')})"
        for unknown in sorted(set(route) - {"method", "path", "permission", "public"}):
            problems.add(entry, f"unknown entry '{unknown}' (expected method, path, permission, public)")
        pattern = _pattern(route, entry, problems)
        try:
            requirement = _requirement(route, catalog)
        except _EntryRejected as rejected:
            problems.add(entry, str(rejected))
            continue
        if pattern is None:
            continue
        shape = (pattern.method, re.sub(r"\{[^}]*?(\+?)\}", r"{\1}", pattern.path))
        if shape in seen:
            problems.add(entry, f"duplicates routes[{seen[shape]}]")
            continue
        seen[shape] = index
        if pattern.could_match_under(GATEKEY_API_VERSION_SEGMENT, GATEKEY_RESOURCE_NAMES):
            problems.add(entry, f"the path would also match Gatekey's own routes under /{GATEKEY_API_VERSION_SEGMENT}")
            continue
        if requirement is None:
            public.append(pattern)
        else:
            rules.append(RouteRule(pattern, requirement))
    return rules, public


def _pattern(route: Mapping[str, Any], entry: str, problems: _Problems) -> RoutePattern | None:
    method, path = route.get("method"), route.get("path")
    if not isinstance(method, str) or not isinstance(path, str):
        problems.add(entry, "needs a method (an HTTP method or ANY) and a path, both text")
        return None
    try:
        return RoutePattern(method.upper(), path)
    except RoutePatternError as error:
        problems.add(entry, str(error))
        return None


class _EntryRejected(ValueError):
    """One entry is wrong; the message says how."""


def _requirement(route: Mapping[str, Any], catalog: Catalog) -> Requirement | None:
    """What the route needs: a permission, or nothing (None) for a public route."""
    permission, public = route.get("permission"), route.get("public", False)
    if not isinstance(public, bool):
        raise _EntryRejected("public must be true or false")
    if public:
        if permission is not None:
            raise _EntryRejected("a public route needs no permission: give one or the other")
        return None
    if not isinstance(permission, str):
        raise _EntryRejected('needs permission = "<resource>:<read|write>", or public = true')
    name, _, level = permission.partition(":")
    resource = catalog.resources.get(name)
    if resource is None or resource.partner_only:
        raise _EntryRejected(f"permission names the unknown resource '{name}'")
    if level not in LEVEL_NAMES:
        raise _EntryRejected(f"permission {permission!r}: the level must be 'read' or 'write'")
    if Level.parse(level) > resource.max_level:
        raise _EntryRejected(f"permission {permission!r}: '{name}' allows at most '{resource.max_level.label}'")
    return Requirement(name, Level.parse(level))


def _versions(value: object, problems: _Problems) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and VERSION_SEGMENT.fullmatch(v) for v in value):
        problems.add("versions", 'must be a list of version segments such as ["v1", "v2"]')
        return []
    return list(dict.fromkeys(value))


def _plans(table: object, default: object, problems: _Problems) -> Plans:
    """`[plans.<name>]` tables (rate, burst, optional quota) and the `default_plan` every org starts on."""
    if not isinstance(table, Mapping):
        problems.add("plans", "must be a table of [plans.<name>] tables")
        return NO_PLANS
    plans = {}
    for name, value in table.items():
        entry = f"plans.{name}"
        if not _PLAN_NAME.fullmatch(name):
            problems.add(entry, "a plan name is 1-40 lowercase letters, digits, '-' or '_'")
            continue
        plan = _plan(name, value, entry, problems)
        if plan is not None:
            plans[name] = plan
    if default is None:
        if table:
            problems.add("default_plan", "missing: name the plan every organisation starts on")
        return Plans(plans)
    if not table:
        problems.add("default_plan", "there are no [plans.<name>] tables to choose from")
    elif not isinstance(default, str) or default not in table:
        problems.add("default_plan", f"names no plan (the plans are: {', '.join(sorted(map(str, table)))})")
    return Plans(plans, str(default))


def _plan(name: str, value: object, entry: str, problems: _Problems) -> Plan | None:
    if not isinstance(value, Mapping):
        problems.add(entry, "must be a table with rate, burst and optionally quota")
        return None
    for unknown in sorted(set(value) - {"rate", "burst", "quota"}):
        problems.add(f"{entry}.{unknown}", "unknown entry (expected rate, burst, quota)")
    rate, burst, quota_value = value.get("rate"), value.get("burst"), value.get("quota")
    valid = True
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= MAX_RATE:
        problems.add(f"{entry}.rate", f"must be a number of requests per second above 0, at most {MAX_RATE:g}")
        valid = False
    if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= MAX_BURST:
        problems.add(f"{entry}.burst", f"must be a whole number of requests from 1 to {MAX_BURST}")
        valid = False
    quota = None if quota_value is None else _quota(quota_value, f"{entry}.quota", problems)
    if not valid or (quota_value is not None and quota is None):
        return None
    assert isinstance(rate, int | float) and isinstance(burst, int)
    return Plan(name, float(rate), burst, quota)


def _quota(value: object, entry: str, problems: _Problems) -> Quota | None:
    if not isinstance(value, Mapping):
        problems.add(entry, 'must be a table: { limit = 1000, period = "day" }')
        return None
    for unknown in sorted(set(value) - {"limit", "period"}):
        problems.add(f"{entry}.{unknown}", "unknown entry (expected limit, period)")
    limit, period = value.get("limit"), value.get("period")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 2**31 - 1:
        problems.add(f"{entry}.limit", "must be a whole number of requests from 1 to 2147483647")
        return None
    if period not in QUOTA_PERIODS:
        problems.add(f"{entry}.period", f"must be one of {', '.join(QUOTA_PERIODS)}")
        return None
    return Quota(limit, period)
