"""The provider's configuration file (DESIGN §11): what it declares, and one line per problem when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekey.configuration import ConfigurationError, load_configuration
from gatekey.domain.permissions import ANY_VALID_KEY, Level, Requirement, RoutePattern

INVOICES = """
[permissions]
invoices = "write"
customers = { level = "read", description = "Customer records" }

[[routes]]
method = "POST"
path = "/invoices/{id}/send"
permission = "invoices:read"

[[routes]]
method = "GET"
path = "/status"
public = true
"""


def _write(tmp_path: Path, text: str, name: str = "gatekey.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigurationError) as raised:
        load_configuration(path)
    assert str(raised.value) == "\n".join(raised.value.problems)
    return list(raised.value.problems)


def test_a_provider_file_declares_catalog_route_rules_and_public_routes(tmp_path: Path) -> None:
    configuration = load_configuration(_write(tmp_path, INVOICES))
    catalog = configuration.catalog
    assert [resource.name for resource in catalog.provider_resources] == ["invoices", "customers"]
    assert catalog.resources["customers"].description == "Customer records"
    assert catalog.resources["customers"].max_level == Level.READ
    assert "keys" in catalog and "products" not in catalog  # Gatekey's own are always there; the demo's are not
    assert configuration.access.required("POST", "/invoices/inv_1/send") == Requirement("invoices", Level.READ)
    assert configuration.access.required("POST", "/invoices/inv_1") == Requirement("invoices", Level.WRITE)
    assert configuration.access.required("GET", "/v1/me") == ANY_VALID_KEY
    assert configuration.access.required("GET", "/products") is None
    assert configuration.public_routes == (RoutePattern("GET", "/status"),)


def test_without_a_file_the_demo_store_catalog_applies() -> None:
    configuration = load_configuration()
    assert [r.name for r in configuration.catalog.provider_resources] == [
        "store",
        "products",
        "categories",
        "coupons",
        "orders",
        "customers",
        "analytics",
        "payouts",
        "licenses",
        "refunds",
    ]
    assert configuration.access.required("POST", "/licenses/l_1/verify") == Requirement("licenses", Level.READ)
    assert configuration.public_routes == ()


def test_the_json_form_shipped_to_the_functions_reads_back_the_same(tmp_path: Path) -> None:
    configuration = load_configuration(_write(tmp_path, INVOICES))
    shipped = load_configuration(_write(tmp_path, configuration.to_json(), "gatekey.json"))
    assert shipped.catalog == configuration.catalog
    assert shipped.access.routes == configuration.access.routes
    assert shipped.public_routes == configuration.public_routes


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[permissions]\ninvoices = "admin"', "gatekey.toml: permissions.invoices: unknown level 'admin'"),
        ('[permissions]\ninvoices = { level = "write", colour = "red" }', "permissions.invoices.colour: unknown"),
        ('[permissions]\nkeys = "read"', "permissions.keys: 'keys' is one of Gatekey's own resources"),
        ('[permissions]\norgs = "write"', "permissions.orgs: 'orgs' is one of Gatekey's own resources"),
        ('[permissions]\nv2 = "read"', "permissions.v2: 'v2' is a version segment"),
        ('[permissions]\n"In Voices" = "read"', "permissions.In Voices: a resource name is"),
        (
            '[permissions]\ninvoices = { level = "read", description = 7 }',
            "permissions.invoices.description: must be text",
        ),
        (
            '[[routes]]\nmethod = "POST"\npath = "/invoices/{id}/send"\npermission = "invoice:read"',
            "routes[0] (POST /invoices/{id}/send): permission names the unknown resource 'invoice'",
        ),
        (
            '[permissions]\ninvoices = "read"\n[[routes]]\nmethod = "POST"\npath = "/invoices/{id}"\n'
            'permission = "invoices:write"',
            "routes[0] (POST /invoices/{id}): permission 'invoices:write': 'invoices' allows at most 'read'",
        ),
        (
            '[permissions]\ninvoices = "read"\n[[routes]]\nmethod = "POST"\npath = "/invoices/{id}"\n'
            'permission = "invoices:all"',
            "the level must be 'read' or 'write'",
        ),
        ('[[routes]]\nmethod = "FETCH"\npath = "/a"\npublic = true', "method 'FETCH' is not an HTTP method or ANY"),
        ('[[routes]]\nmethod = "GET"\npath = "status"\npublic = true', "path 'status' must start with /"),
        ('[[routes]]\nmethod = "GET"\npath = "/files/{path+}/x"\npublic = true', "may only be the last segment"),
        ('[[routes]]\nmethod = "GET"\npath = "/a/{id}/{id}"\npublic = true', "names {id} twice"),
        ('[[routes]]\nmethod = "GET"\npath = "/a/*"\npublic = true', "'*' is neither {name}, {name+} nor"),
        ('[[routes]]\nmethod = "GET"\npath = "/a/{b"\npublic = true', "'{b' is neither"),
        ('[[routes]]\nmethod = "GET"\npath = "/a"', 'needs permission = "<resource>:<read|write>", or public'),
        (
            '[[routes]]\nmethod = "GET"\npath = "/a"\npublic = true\npermission = "keys:read"',
            "a public route needs no permission",
        ),
        ('[[routes]]\nmethod = "GET"\npath = "/a"\npublic = "yes"', "public must be true or false"),
        ('[[routes]]\nmethod = "GET"\npath = "/a"\npublic = true\ncache = 3', "unknown entry 'cache'"),
        ('[[routes]]\npath = "/a"\npublic = true', "needs a method (an HTTP method or ANY) and a path"),
        (
            '[[routes]]\nmethod = "GET"\npath = "/a/{x}"\npublic = true\n'
            '[[routes]]\nmethod = "get"\npath = "/a/{y}"\npublic = true',
            "routes[1] (get /a/{y}): duplicates routes[0]",
        ),
        (
            '[[routes]]\nmethod = "GET"\npath = "/v1/{anything}"\npublic = true',
            "would also match Gatekey's own routes under /v1",
        ),
        ('[[routes]]\nmethod = "ANY"\npath = "/{proxy+}"\npublic = true', "would also match Gatekey's own routes"),
        ("routes = 3", "gatekey.toml: routes: must be an array of tables"),
        ('versions = ["v1", "beta"]', "gatekey.toml: versions: must be a list of version segments"),
        ('rate_limits = "free"', "gatekey.toml: rate_limits: unknown entry"),
        ('[permissions\ninvoices = "read"', "gatekey.toml: not valid TOML: "),
    ],
)
def test_every_problem_is_one_line_naming_file_entry_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    (line,) = _problems(tmp_path, text)
    assert line.startswith(f"{tmp_path / 'gatekey.toml'}: ")
    assert problem.removeprefix("gatekey.toml: ") in line


def test_all_problems_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    lines = _problems(
        tmp_path,
        '[permissions]\nkeys = "read"\ninvoices = "admin"\n'
        '[[routes]]\nmethod = "GET"\npath = "/a"\npermission = "nothing:read"\n'
        '[[routes]]\nmethod = "GET"\npath = "nope"\npublic = true\n',
    )
    assert len(lines) == 4
    assert [line.split(": ")[1] for line in lines] == [
        "permissions.keys",
        "permissions.invoices",
        "routes[0] (GET /a)",
        "routes[1] (GET nope)",
    ]


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_configuration(tmp_path / "absent.toml")
    assert raised.value.problems == (f"{tmp_path / 'absent.toml'}: cannot read it: No such file or directory",)
