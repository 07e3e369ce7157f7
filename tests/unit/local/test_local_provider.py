"""The provider's API behind `gatekey serve`: which route a request takes, and how `--handler` is loaded."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from gatekey.api_gateway import GATEKEY_ROUTES
from gatekey.domain.permissions import RoutePattern
from gatekey.local.events import AuthorizerOutput, GatewayRequest
from gatekey.local.gateway import HttpResponse, LocalRoute, lambda_routes, match_route
from gatekey.local.provider import HandlerLoadError, handler_function_name, load_handler, provider_routes


class Backend:
    """An integration that is only ever routed to here."""

    def respond(self, request: GatewayRequest, authorizer: AuthorizerOutput | None) -> HttpResponse:
        raise AssertionError("not called")


BACKEND = Backend()
PUBLIC = [RoutePattern("GET", "/status"), RoutePattern("ANY", "/hooks/{name}"), RoutePattern("GET", "/docs/{page+}")]


def no_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise AssertionError("not called")


ROUTES: tuple[LocalRoute, ...] = (
    *lambda_routes(GATEKEY_ROUTES, {"api": no_handler}),
    *provider_routes(PUBLIC, BACKEND),
)


def routed(method: str, path: str) -> tuple[str, str, bool]:
    match = match_route(method, path, ROUTES)
    assert match is not None, (method, path)
    return match.route.path, match.route.method, match.route.authorized


def test_a_public_route_skips_the_authorizer_for_its_methods_only() -> None:
    assert routed("GET", "/status") == ("/status", "GET", False)
    assert routed("HEAD", "/status") == ("/status", "HEAD", False)  # the configuration's GET covers HEAD
    assert routed("POST", "/status") == ("/status", "ANY", True)
    assert routed("GET", "/docs/guides/start") == ("/docs/{page+}", "GET", False)
    assert routed("DELETE", "/docs/guides/start") == ("/docs/{page+}", "ANY", True)


def test_a_public_route_for_any_method_has_no_guarded_methods() -> None:
    assert routed("POST", "/hooks/stripe") == ("/hooks/{name}", "ANY", False)
    assert routed("POST", "/hooks/stripe/extra") == ("/{proxy+}", "ANY", True)


def test_every_other_path_goes_through_the_authorizer_to_the_backend() -> None:
    assert routed("GET", "/invoices/inv_1") == ("/{proxy+}", "ANY", True)
    assert routed("PATCH", "/statuses") == ("/{proxy+}", "ANY", True)
    assert match_route("GET", "/", ROUTES) is None  # API Gateway has no method at the root either
    provider = {route.integration for route in ROUTES if route.path not in {r.path for r in GATEKEY_ROUTES}}
    assert provider == {BACKEND}


def test_gatekeys_own_routes_keep_their_place() -> None:
    assert routed("GET", "/health") == ("/health", "GET", False)
    assert routed("GET", "/v1/keys") == ("/v1/{proxy+}", "ANY", True)
    assert match_route("POST", "/health", ROUTES) is None  # the resource lacks the method: the gateway's 404


@pytest.fixture
def code_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of the provider's code; sys.path is restored afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


def unique_name() -> str:
    return f"provider_{uuid.uuid4().hex[:8]}"


def test_a_handler_file_is_imported_with_its_directory_on_the_path(code_dir: Path) -> None:
    helper, module = unique_name(), unique_name()
    (code_dir / f"{helper}.py").write_text("GREETING = 'hello'\n")
    (code_dir / f"{module}.py").write_text(
        f"from {helper} import GREETING\n\ndef lambda_handler(event, context):\n    return GREETING\n"
    )
    spec = f"{code_dir / module}.py:lambda_handler"

    handler = load_handler(spec)

    assert handler({}, None) == "hello"
    assert handler_function_name(spec) == module


def test_a_handler_module_is_imported_from_the_current_directory(
    code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = unique_name()
    (code_dir / package).mkdir()
    (code_dir / package / "__init__.py").write_text("")
    (code_dir / package / "app.py").write_text("def handle(event, context):\n    return 'module'\n")
    monkeypatch.chdir(code_dir)

    assert load_handler(f"{package}.app:handle")({}, None) == "module"
    assert handler_function_name(f"{package}.app:handle") == "app"


@pytest.mark.parametrize(
    ("source", "attribute", "problem"),
    [
        (None, "lambda_handler", "no file"),
        ("x = 1\n", "lambda_handler", "has no lambda_handler"),
        ("lambda_handler = 42\n", "lambda_handler", "is not a function"),
        ("import not_installed_anywhere\n", "lambda_handler", "ModuleNotFoundError"),
        ("def lambda_handler(:\n", "lambda_handler", "SyntaxError"),
        ("x = 1\n", "", "must be FILE.py:FUNCTION or MODULE:FUNCTION"),
    ],
)
def test_a_handler_that_cannot_be_loaded_says_why(
    code_dir: Path, source: str | None, attribute: str, problem: str
) -> None:
    file = code_dir / f"{unique_name()}.py"
    if source is not None:
        file.write_text(source)

    with pytest.raises(HandlerLoadError, match=problem):
        load_handler(f"{file}:{attribute}")
