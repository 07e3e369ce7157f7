"""The Lambda bundle as deployed: hash-based bytecode for the runtime's Python, loaded instead of the sources, and
nothing the functions never import (gatekey.cdk.bundling's LEFT_OUT), checked by running every handler from it."""

from __future__ import annotations

import ast
import importlib.util
import json
import marshal
import os
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from gatekey.api_gateway import (
    AUTHORIZER,
    FUNCTIONS,
    LOG_INGEST,
    MANAGEMENT_API,
    SCHEDULER,
    STORE_DEMO,
    WEBHOOK_DELIVERY,
)
from gatekey.cdk.bundling import (
    LAMBDA_PLATFORM,
    LAMBDA_TASK_ROOT,
    PACKAGE_DIR,
    BundlingError,
    LambdaBundle,
    is_left_out,
    lambda_runtime,
)
from gatekey.configuration import CONFIG_FILE_ENV_VAR, load_configuration
from infra.build_lambda import build_lambda, this_machine_platform
from tests.deployed_bundle import DeployedPython, function_environment, lambda_runtime_packages, lay_out_as_deployed

EVENTS = Path(__file__).resolve().parents[2] / "events"
PYTHON_TAG = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
# The bytecode header's flags (PEP 552) of hash-based bytecode that imports never check against its source
# (0b11 would have them hash the source each time; 0 is the timestamp-based kind).
UNCHECKED_HASH_BASED = 0b01
# What the bundle keeps that still names a left-out module, and why that code never runs in Gatekey's functions.
UNREACHED_REFERENCES = {
    ("pydantic/_internal/_generate_schema.py", "pydantic.v1"): "only to warn about a type with pydantic 1's "
    "`__get_validators__`; no Gatekey model has one",
    ("pydantic/_migration.py", "pydantic.v1"): "only for a name pydantic 2 moved to pydantic.v1, which Gatekey "
    "does not use",
}


@pytest.fixture(scope="session")
def asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The code asset, as `make build` and synthesis write it (dependencies from the user's bundle cache)."""
    return build_lambda(tmp_path_factory.mktemp("bundle") / "lambda")


@pytest.fixture(scope="session")
def runnable(asset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The asset as this machine can run it: itself on Lambda's platform, else the same bundle with this machine's
    binary wheels."""
    if sys.platform != "linux":
        pytest.skip("the functions' binary wheels are manylinux: they run on Linux only")
    if this_machine_platform() == LAMBDA_PLATFORM:
        return asset
    return build_lambda(tmp_path_factory.mktemp("bundle-here") / "lambda", this_machine_platform())


@pytest.fixture(scope="session")
def deployed(runnable: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The runnable bundle laid out as Lambda unpacks the asset zip, and boto3 as Lambda's runtime provides it."""
    workspace = tmp_path_factory.mktemp("deployed")
    return lay_out_as_deployed(runnable, workspace / "task"), lambda_runtime_packages(workspace / "runtime")


def relative_files(root: Path, pattern: str = "*") -> set[PurePosixPath]:
    return {PurePosixPath(path.relative_to(root).as_posix()) for path in root.rglob(pattern) if path.is_file()}


def module_name(relative_source: PurePosixPath) -> str:
    parts = list(relative_source.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def left_out_modules(platform: str) -> set[str]:
    """Every module pip installs or the package has that the bundle leaves out."""
    installed = LambdaBundle.for_building_python(load_configuration(), platform=platform).dependencies_dir
    sources = relative_files(installed, "*.py") | {
        PurePosixPath(PACKAGE_DIR.name, path.relative_to(PACKAGE_DIR).as_posix()) for path in PACKAGE_DIR.rglob("*.py")
    }
    return {module_name(source) for source in sources if is_left_out(source)}


def test_every_module_has_unchecked_hash_based_bytecode_for_the_runtime_python(asset: Path) -> None:
    sources = relative_files(asset, "*.py")
    expected = {source.parent / "__pycache__" / f"{source.stem}.{PYTHON_TAG}.pyc" for source in sources}
    # The runtime the functions declare is the Python that compiled them.
    assert lambda_runtime().name == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert {source.parts[0] for source in sources} >= {"gatekey", "pydantic", "aws_lambda_powertools", "argon2"}
    # One bytecode file per module, of optimization level 0 (no .opt-1/.opt-2: Lambda does not run with -O).
    assert relative_files(asset, "*.pyc") == expected
    for source in sources:
        data = (asset / source.parent / "__pycache__" / f"{source.stem}.{PYTHON_TAG}.pyc").read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER, source
        assert int.from_bytes(data[4:8], "little") == UNCHECKED_HASH_BASED, source
        assert data[8:16] == importlib.util.source_hash((asset / source).read_bytes()), source
        code = marshal.loads(data[16:])  # noqa: S302 - bytecode this test session just compiled
        assert code.co_filename == f"{LAMBDA_TASK_ROOT}/{source}", source


def test_the_dependencies_are_compiled_once_in_the_cache_and_copied(asset: Path) -> None:
    cached = LambdaBundle.for_building_python(load_configuration()).dependencies_dir
    compiled = PurePosixPath("pydantic", "__pycache__", f"main.{PYTHON_TAG}.pyc")
    assert (cached / compiled).read_bytes() == (asset / compiled).read_bytes()
    # The package is compiled at each build, never cached (its sources change).
    assert not (cached / "gatekey").exists()
    assert (asset / "gatekey" / "handlers" / "__pycache__" / f"authorizer.{PYTHON_TAG}.pyc").is_file()


def test_the_bundle_leaves_out_what_the_functions_never_import(asset: Path) -> None:
    installed = LambdaBundle.for_building_python(load_configuration()).dependencies_dir
    left_out = [
        "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
        "aws_lambda_powertools/utilities/parser/__init__.py",
        "pydantic/v1/__init__.py",
        "pydantic/mypy.py",
        "cffi/__init__.py",
        "pycparser/__init__.py",
        "_argon2_cffi_bindings/_ffi_build.py",
        "certifi/tests/__init__.py",
        "pydantic/py.typed",
    ]
    for path in left_out:
        assert (installed / path).is_file(), f"pip no longer installs {path}: update this test and LEFT_OUT"
        assert not (asset / path).exists(), path
    assert not (asset / "bin").exists()
    assert not relative_files(asset, "*.pyi")
    assert not relative_files(asset, "py.typed")
    assert not {"local", "client", "cdk", "cli.py", "bootstrap.py", "log_redrive.py"} & {
        path.name for path in (asset / "gatekey").iterdir()
    }
    # What argon2's compiled binding loads at run time stays, and so do the packages' METADATA and licences.
    assert list(asset.glob("_cffi_backend.*.so"))
    assert list((asset / "_argon2_cffi_bindings").glob("_ffi.*.so"))
    (pydantic_metadata,) = asset.glob("pydantic-*.dist-info")
    assert {path.name for path in pydantic_metadata.rglob("*")} >= {"METADATA", "LICENSE"}
    assert not list(asset.glob("*.dist-info/RECORD"))


def imported_modules(path: Path, relative: PurePosixPath) -> Iterator[str]:
    """The modules a source imports anywhere (functions too), or names as a dotted string (lazy imports)."""
    package = module_name(relative) if relative.name == "__init__.py" else module_name(relative).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and " " not in node.value:
            yield node.value.partition(":")[0]


def test_nothing_the_bundle_keeps_imports_what_it_leaves_out(asset: Path) -> None:
    left_out = left_out_modules(LAMBDA_PLATFORM)
    assert {"pydantic.v1", "cffi", "pycparser", "gatekey.local", "aws_lambda_powertools.utilities.parser"} <= left_out
    references = set()
    for source in relative_files(asset, "*.py"):
        for name in imported_modules(asset / source, source):
            named = [module for module in left_out if name == module or name.startswith(f"{module}.")]
            if named:
                references.add((str(source), min(named, key=len)))  # the outermost left-out package it is in
    assert references == set(UNREACHED_REFERENCES)


RUN_EVERY_HANDLER = """
import importlib, importlib.machinery, json, os, sys, sysconfig

compiled_from_source = []
_source_to_code = importlib.machinery.SourceFileLoader.source_to_code


def _recording_source_to_code(self, data, path, *, _optimize=-1):
    compiled_from_source.append(path)
    return _source_to_code(self, data, path, _optimize=_optimize)


importlib.machinery.SourceFileLoader.source_to_code = _recording_source_to_code
attempted = []


class AttemptedImports:
    @staticmethod
    def find_spec(name, path=None, target=None):
        attempted.append(name)
        return None


sys.meta_path.insert(0, AttemptedImports)


class Context:
    function_name = "bundle"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bundle"
    memory_limit_in_mb = 1024
    aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/bundle"
    log_stream_name = "bundle"

    def get_remaining_time_in_millis(self):
        return 10_000


def answer(handler, event):
    try:
        result = handler.lambda_handler(event, Context())
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    if isinstance(result, dict) and "statusCode" in result:
        return {"statusCode": result["statusCode"], "body": json.loads(result["body"] or "null")}
    return result


outcomes = {}
for name, (module, sample) in SAMPLES.items():
    event = json.load(open(os.path.join(EVENTS, sample)))
    if name == "openapi":
        event["path"] = event["resource"] = event["requestContext"]["resourcePath"] = "/v1/openapi.json"
    outcomes[name] = answer(importlib.import_module(module), event)

import argon2

hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
outcomes["argon2"] = hasher.verify(hasher.hash("secret"), "secret")
modules = {
    name: {"file": module.__file__, "cached": module.__spec__.cached, "loader": type(module.__spec__.loader).__name__}
    for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and module.__spec__ is not None
}
print(json.dumps({
    "outcomes": outcomes,
    "modules": modules,
    "compiled_from_source": compiled_from_source,
    "attempted": attempted,
    "dont_write_bytecode": sys.dont_write_bytecode,
    "standard_library": [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]],
}))
"""
SAMPLES = {
    "authorizer": (AUTHORIZER, "authorizer_bearer_request.json"),
    "health": (MANAGEMENT_API, "api_health.json"),
    "openapi": (MANAGEMENT_API, "api_health.json"),
    "store_demo": (STORE_DEMO, "store_demo_list_products.json"),
    "log_ingest": (LOG_INGEST, "log_ingest_access_log_delivery.json"),
    "scheduler": (SCHEDULER, "scheduler_scheduled_run.json"),
    "webhooks": (WEBHOOK_DELIVERY, "webhooks_user_created.json"),
}


@pytest.fixture(scope="module")
def run_from_bundle(deployed: tuple[Path, Path], storage_endpoint: str) -> dict[str, Any]:
    """Every function's sample event through its handler, in one interpreter that has the bundle and boto3 and
    nothing else, against the test store."""
    task_root, runtime_packages = deployed
    assert {definition for definition, _ in SAMPLES.values()} == set(FUNCTIONS)
    # The test store's tables, keys and endpoint, as the integration tests configure the functions.
    store = {name: value for name, value in os.environ.items() if name.startswith(("GATEKEY_", "AWS_", "POWERTOOLS_"))}
    environment = {
        **function_environment(task_root, stage="local", **store),
        CONFIG_FILE_ENV_VAR: function_environment(task_root)[CONFIG_FILE_ENV_VAR],
    }
    samples = {name: (definition.handler.rpartition(".")[0], event) for name, (definition, event) in SAMPLES.items()}
    code = f"EVENTS = {str(EVENTS)!r}\nSAMPLES = {samples!r}\n{RUN_EVERY_HANDLER}"
    completed = DeployedPython(task_root, runtime_packages, environment).run(code)
    assert completed.returncode == 0, completed.stderr
    report: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    report["task_root"], report["runtime_packages"] = str(task_root), str(runtime_packages)
    return report


def test_every_function_answers_its_sample_event_from_the_bundle_alone(run_from_bundle: dict[str, Any]) -> None:
    outcomes = run_from_bundle["outcomes"]
    assert outcomes["authorizer"] == "Exception: Unauthorized"  # DESIGN's test vector: no such key in the store
    assert outcomes["health"] == {"statusCode": 200, "body": {"status": "ok"}}
    assert outcomes["openapi"]["statusCode"] == 200
    assert "/v1/keys" in outcomes["openapi"]["body"]["paths"]  # every route's models, built from the bundle
    assert outcomes["store_demo"]["statusCode"] == 200
    assert outcomes["log_ingest"] == {"stored": 2, "malformed": 0, "unattributed": 1, "keys_touched": 1}
    assert outcomes["scheduler"]["failed"] == 0
    assert outcomes["webhooks"] == {"subscribed": 0, "delivered": 0}
    assert outcomes["argon2"] is True  # argon2's binding works with cffi's backend and without cffi itself


def test_every_module_comes_from_the_bundle_boto3_or_the_standard_library(run_from_bundle: dict[str, Any]) -> None:
    places = (run_from_bundle["task_root"], run_from_bundle["runtime_packages"], *run_from_bundle["standard_library"])
    elsewhere = {
        name: module["file"]
        for name, module in run_from_bundle["modules"].items()
        if not module["file"].startswith(tuple(f"{place}{os.sep}" for place in places))
    }
    assert elsewhere == {}
    from_runtime = {
        name.partition(".")[0]
        for name, module in run_from_bundle["modules"].items()
        if module["file"].startswith(run_from_bundle["runtime_packages"])
    }
    assert from_runtime >= {"boto3", "botocore"}


def test_every_module_of_the_bundle_was_loaded_from_its_bytecode(run_from_bundle: dict[str, Any]) -> None:
    task_root = run_from_bundle["task_root"]
    from_bundle = {
        name: module for name, module in run_from_bundle["modules"].items() if module["file"].startswith(task_root)
    }
    assert {"gatekey.handlers.authorizer", "pydantic.main", "aws_lambda_powertools.logging.logger"} <= set(from_bundle)
    # No source of the bundle was compiled (as in a read-only /var/task, nothing was written either) ...
    assert [path for path in run_from_bundle["compiled_from_source"] if path.startswith(task_root)] == []
    assert run_from_bundle["dont_write_bytecode"] is True
    # ... and every module of it had its bytecode where the import system looks for it.
    for name, module in from_bundle.items():
        if module["loader"] == "ExtensionFileLoader":
            continue
        assert module["loader"] == "SourceFileLoader", name
        assert Path(module["cached"]).is_file(), name


def test_no_function_tries_to_import_what_the_bundle_leaves_out(run_from_bundle: dict[str, Any]) -> None:
    left_out = left_out_modules(this_machine_platform())
    assert set(run_from_bundle["attempted"]) & left_out == set()


def test_a_bundle_for_another_python_is_refused_before_pip_runs(tmp_path: Path) -> None:
    other = "3.12" if sys.version_info[:2] == (3, 11) else "3.11"
    bundle = LambdaBundle(load_configuration(), other, tmp_path / "cache")
    with pytest.raises(BundlingError, match=f"Python {other} must be built by that Python"):
        bundle.build(tmp_path / "lambda")
    assert not (tmp_path / "cache").exists()
