"""`gatekey serve --config/--upstream/--handler` refuse what they cannot use before starting anything: exit 2, with
one line per problem on stderr and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekey.configuration import ConfigurationError, load_configuration
from tests.e2e.server import free_port, run_gatekey

ROUTE = '[[routes]]\nmethod = "{method}"\npath = "{path}"\npermission = "{permission}"\n'
BAD_CONFIGURATIONS = {
    "toml-syntax": ('[permissions\ninvoices = "write"\n', "not valid TOML"),
    "unknown-level": ('[permissions]\ninvoices = "admin"\n', "unknown level 'admin'"),
    "unknown-resource": (
        '[permissions]\ninvoices = "write"\n' + ROUTE.format(method="GET", path="/pay", permission="payments:read"),
        "permission names the unknown resource 'payments'",
    ),
    "own-resource": ('[permissions]\nkeys = "read"\n', "'keys' is one of Gatekey's own resources"),
    "duplicate-route": (
        '[permissions]\ninvoices = "write"\n'
        + ROUTE.format(method="POST", path="/invoices/{id}/send", permission="invoices:read")
        + ROUTE.format(method="POST", path="/invoices/{invoice}/send", permission="invoices:write"),
        "duplicates routes[0]",
    ),
    "malformed-path": (
        '[permissions]\ninvoices = "write"\n' + ROUTE.format(method="GET", path="invoices/{id", permission="x:read"),
        "must start with /",
    ),
}


def expected_lines(path: Path) -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        load_configuration(path)
    return list(raised.value.problems)


def serve(tmp_path: Path, *arguments: str) -> tuple[int, str, str]:
    key_file = tmp_path / "admin-key"
    result = run_gatekey("serve", "--port", str(free_port()), "--admin-key-file", str(key_file), *arguments)
    assert not key_file.exists()  # nothing was started: no org was founded
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("case", sorted(BAD_CONFIGURATIONS))
def test_a_bad_configuration_stops_serve_with_its_lines(tmp_path: Path, case: str) -> None:
    text, problem = BAD_CONFIGURATIONS[case]
    config = tmp_path / "gatekey.toml"
    config.write_text(text)

    status, stdout, stderr = serve(tmp_path, "--config", str(config))

    assert status == 2
    assert stdout == ""
    assert stderr.splitlines() == expected_lines(config)
    assert problem in stderr
    assert all(line.startswith(f"{config}: ") for line in stderr.splitlines())


def test_every_problem_of_a_file_is_printed(tmp_path: Path) -> None:
    config = tmp_path / "gatekey.toml"
    config.write_text(
        '[permissions]\ninvoices = "admin"\nkeys = "read"\n'
        + ROUTE.format(method="FETCH", path="/invoices", permission="invoices:read")
    )

    status, _, stderr = serve(tmp_path, "--config", str(config))

    assert status == 2
    assert stderr.splitlines() == expected_lines(config)
    for problem in ("unknown level 'admin'", "'keys' is one of Gatekey's own resources", "'FETCH' is not"):
        assert problem in stderr


def test_a_missing_configuration_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"

    status, stdout, stderr = serve(tmp_path, "--config", str(missing))

    assert (status, stdout) == (2, "")
    assert stderr.splitlines() == [f"{missing}: cannot read it: No such file or directory"]


def test_upstream_and_handler_together_are_refused(tmp_path: Path) -> None:
    status, _, stderr = serve(tmp_path, "--upstream", "http://127.0.0.1:9000", "--handler", "backend.py:handle")

    assert status == 2
    assert "--handler" in stderr and "not allowed with argument --upstream" in stderr


def test_an_upstream_that_is_no_http_url_is_refused(tmp_path: Path) -> None:
    status, _, stderr = serve(tmp_path, "--upstream", "localhost:9000")

    assert status == 2
    assert stderr.splitlines() == [
        "gatekey: --upstream 'localhost:9000' must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:9000"
    ]


def test_a_handler_that_cannot_be_loaded_is_one_line(tmp_path: Path) -> None:
    backend = tmp_path / "backend.py"
    backend.write_text("def handle(event, context):\n    return {}\n")

    spec = f"{backend}:lambda_handler"

    result = run_gatekey("serve", "--port", str(free_port()), "--handler", spec)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"gatekey: --handler {spec}: {backend} has no lambda_handler"]
