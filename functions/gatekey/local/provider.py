"""The provider's API behind `gatekey serve`: its routes (the configured public ones, every other path through
the authorizer) and, for `--handler`, the provider's own Lambda handler loaded as Lambda loads one."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from gatekey.domain.permissions import RoutePattern
from gatekey.local.gateway import Integration, LambdaHandler, LocalRoute

# API Gateway's greedy resource: whatever path Gatekey's own routes and the public ones leave.
PROVIDER_PROXY_PATH = "/{proxy+}"


def provider_routes(public_routes: Sequence[RoutePattern], backend: Integration) -> tuple[LocalRoute, ...]:
    """The provider's routes, all answered by `backend`: each public route without the authorizer, then every
    other method of a public route's resource and every other path through it.

    A public route's resource also takes its other methods through the authorizer, as the provider's API does
    when that resource has guarded methods too (`POST /status` next to a public `GET /status`); without that,
    API Gateway's most-specific-resource rule would make them the gateway's 404 instead.
    """
    public: list[LocalRoute] = []
    guarded: dict[str, LocalRoute] = {}
    for pattern in public_routes:
        # The configuration's GET also covers HEAD; API Gateway needs a method of its own for each.
        methods = ("ANY",) if pattern.method == "ANY" else pattern.methods
        public.extend(LocalRoute(pattern.path, method, authorized=False, integration=backend) for method in methods)
        if pattern.method != "ANY":
            guarded.setdefault(pattern.path, LocalRoute(pattern.path, "ANY", authorized=True, integration=backend))
    everything_else = LocalRoute(PROVIDER_PROXY_PATH, "ANY", authorized=True, integration=backend)
    return (*public, *guarded.values(), everything_else)


class HandlerLoadError(Exception):
    """`--handler` names nothing that can be called: the message says what is wrong."""


def handler_function_name(spec: str) -> str:
    """The Lambda function name the provider's handler runs under: its module's name (`handler` for
    `backend/handler.py:lambda_handler`)."""
    module = spec.rpartition(":")[0]
    return Path(module).stem if module.endswith(".py") else module.rpartition(".")[2]


def load_handler(spec: str) -> LambdaHandler:
    """`path/to/file.py:function` or `package.module:function`, imported as Lambda imports a handler: the file's
    directory (for a module, the current directory) first on sys.path, so the code's own imports resolve."""
    location, _, attribute = spec.rpartition(":")
    if not location or not attribute.isidentifier():
        raise HandlerLoadError(f"{spec!r} must be FILE.py:FUNCTION or MODULE:FUNCTION")
    try:
        module = _import_file(Path(location)) if location.endswith(".py") else _import_module(location)
    except HandlerLoadError:
        raise
    except Exception as error:  # the provider's code failed to import: say how, in one line
        raise HandlerLoadError(f"importing {location} failed: {type(error).__name__}: {error}") from error
    handler = getattr(module, attribute, None)
    if handler is None:
        raise HandlerLoadError(f"{location} has no {attribute}")
    if not callable(handler):
        raise HandlerLoadError(f"{location}:{attribute} is not a function")
    loaded: LambdaHandler = handler
    return loaded


def _import_file(file: Path) -> object:
    if not file.is_file():
        raise HandlerLoadError(f"no file {file}")
    name = file.stem
    already = sys.modules.get(name)
    if already is not None and Path(getattr(already, "__file__", "") or "").resolve() != file.resolve():
        raise HandlerLoadError(f"a module named {name!r} is imported already: rename {file}")
    sys.path.insert(0, str(file.resolve().parent))
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise HandlerLoadError(f"{file} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _import_module(name: str) -> object:
    sys.path.insert(0, str(Path.cwd()))
    return importlib.import_module(name)
