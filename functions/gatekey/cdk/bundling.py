"""Gatekey's Lambda code asset, bundled at synthesis without Docker: cached dependencies, package, configuration.

Every Gatekey function deploys the same bundle:
- the runtime requirements of the installed `gatekey` distribution (boto3 and botocore come with Lambda),
  installed by pip as arm64 wheels for the Python version that builds, compiled to bytecode, and cached between
  synths;
- the `gatekey` package, compiled to bytecode at every build;
- the configuration as JSON (`CONFIGURATION_FILE_NAME`), which the functions find through `CONFIG_FILE_ENV_VAR`
  rather than through environment variables carrying it (Lambda allows 4 KB of them);
- less everything `LEFT_OUT` names: what never runs in Lambda.

Why bytecode: Lambda unpacks the asset into a read-only /var/task, so a module without a valid `.pyc` there is
compiled from source on every cold start and the result thrown away (the management API's import took twice as
long). The CDK zips the asset with every file stamped 1980-01-01, so the usual timestamp-checked `.pyc` would not
match its source either: the bundle's bytecode is hash-based and unchecked (`BYTECODE_INVALIDATION`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

import gatekey
from gatekey.configuration import GatekeyConfiguration

PACKAGE_DIR = Path(gatekey.__file__).resolve().parent
DISTRIBUTION = "gatekey"
# Lambda's arm64 (Graviton) machines; manylinux2014 wheels run on the glibc of every Python runtime.
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
# The Lambda runtime ships these; bundling our own would only grow the asset.
PROVIDED_BY_LAMBDA = frozenset({"boto3", "botocore"})
# What the bundle leaves out: fnmatch patterns on paths relative to the bundle's root, where `*` also crosses
# "/". The one list for the dependencies and for the package; a module's bytecode goes wherever its source goes.
# tests/infra/test_bundle.py runs every handler from the bundle and checks that nothing the bundle keeps imports
# what this leaves out: to use something listed here, delete its line.
LEFT_OUT: tuple[str, ...] = (
    # Gatekey's own parts that run on a laptop (`gatekey serve`, the SDK, the CLI and what only the CLI runs:
    # founding a stage's first org, replaying failed log deliveries, assigning plans) or at synthesis (this package).
    "gatekey/local/*",
    "gatekey/client/*",
    "gatekey/cdk/*",
    "gatekey/cli.py",
    "gatekey/bootstrap.py",
    "gatekey/log_redrive.py",
    "gatekey/plan_commands.py",
    # For type checkers only: stubs and PEP 561 markers.
    "*.pyi",
    "*/py.typed",
    # Command-line entry points: console scripts (pip --target writes them to bin/) and `python -m` modules.
    "bin/*",
    "*/__main__.py",
    # Dependencies' own test suites, and anyio's pytest plugin.
    "*/tests/*",
    "anyio/pytest_plugin.py",
    # pydantic 1's API kept for migrations, and pydantic's mypy plugin. pydantic 2 imports `pydantic.v1` only to
    # word a warning about a type that still has pydantic 1's `__get_validators__`; no Gatekey model has one.
    "pydantic/v1/*",
    "pydantic/mypy.py",
    # cffi and its C parser compile argon2's binding when its wheel is built; the compiled binding needs only the
    # `_cffi_backend` extension module at run time, which stays (a top-level .so, not part of the cffi package).
    "cffi/*",
    "pycparser/*",
    "_argon2_cffi_bindings/_ffi_build.py",
    # Powertools' Swagger UI (1.5 MB of JavaScript and CSS), served only by `enable_swagger()`, which Gatekey does
    # not call: its management API serves its OpenAPI document as JSON.
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/*.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/*.css",
    # Powertools utilities Gatekey does not use and no module the bundle keeps imports (the event handler,
    # logging, metrics, data classes, idempotency, JMESPath and validation utilities stay).
    "aws_lambda_powertools/utilities/auth_alpha/*",
    "aws_lambda_powertools/utilities/batch/*",
    "aws_lambda_powertools/utilities/circuit_breaker/*",
    "aws_lambda_powertools/utilities/data_masking/*",
    "aws_lambda_powertools/utilities/feature_flags/*",
    "aws_lambda_powertools/utilities/kafka/*",
    "aws_lambda_powertools/utilities/metadata/*",
    "aws_lambda_powertools/utilities/parameters/*",
    "aws_lambda_powertools/utilities/parser/*",
    "aws_lambda_powertools/utilities/streaming/*",
    # pip's bookkeeping in each *.dist-info: RECORD would list files the bundle no longer has, entry_points.txt
    # names console scripts and plugins it does not have. METADATA and the licence and SBOM files stay: nothing
    # imported reads metadata at run time (Powertools and botocore carry their versions as constants; pydantic and
    # argon2 only read it when asked for a version), but licences travel with the code, and scanners of Lambda
    # code (Amazon Inspector's, say) identify the packages and their versions from METADATA.
    "*.dist-info/RECORD",
    "*.dist-info/INSTALLER",
    "*.dist-info/REQUESTED",
    "*.dist-info/WHEEL",
    "*.dist-info/entry_points.txt",
    "*.dist-info/top_level.txt",
    "*.dist-info/direct_url.json",
)
_LEFT_OUT_PATTERN = re.compile("|".join(fnmatch.translate(pattern) for pattern in LEFT_OUT))
# Lambda never checks the bundle's bytecode against its source: the asset is immutable once deployed, so checking
# would only cost a read and a hash of every source file on every cold start, and the zip's fixed timestamps rule
# out the timestamp check. UNCHECKED_HASH bytecode still names its source's hash, so it can be verified offline.
BYTECODE_INVALIDATION = py_compile.PycInvalidationMode.UNCHECKED_HASH
# Lambda starts Python without -O (and without PYTHONOPTIMIZE), so it looks for the bytecode of optimization level
# 0: `__pycache__/<module>.<cache tag>.pyc`, with assertions and docstrings kept.
BYTECODE_OPTIMIZATION = 0
# Where Lambda unpacks the code asset, and the name of the configuration in it.
LAMBDA_TASK_ROOT = "/var/task"
CONFIGURATION_FILE_NAME = "gatekey-configuration.json"
CACHE_ENV_VAR = "GATEKEY_BUNDLE_CACHE"
# The runtime must run the Python that builds: the wheels pip picks are for that version, and bytecode only loads
# in the Python version that compiled it (each X.Y has its own magic number and cache tag, the same for every
# patch release, so any python3.X Lambda runtime loads what a Python 3.X compiled).
_RUNTIMES = {
    "3.11": lambda_.Runtime.PYTHON_3_11,
    "3.12": lambda_.Runtime.PYTHON_3_12,
    "3.13": lambda_.Runtime.PYTHON_3_13,
}


class BundlingError(RuntimeError):
    """The bundle cannot be built for this Python, or pip could not install its requirements."""


def building_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def lambda_runtime(python_version: str | None = None) -> lambda_.Runtime:
    """The Lambda runtime of the Python that builds the bundle (see `_RUNTIMES` for why they must match)."""
    version = python_version or building_python_version()
    try:
        return _RUNTIMES[version]
    except KeyError:
        raise BundlingError(
            f"Gatekey's functions run the Python that bundles them; Lambda has no arm64 runtime for Python {version} "
            f"that Gatekey supports ({', '.join(_RUNTIMES)}): synthesize with one of those"
        ) from None


def runtime_requirements() -> tuple[str, ...]:
    """The installed distribution's requirements without extras, less what the Lambda runtime provides."""
    requirements = importlib.metadata.requires(DISTRIBUTION) or []
    return tuple(
        requirement
        for requirement in requirements
        if "extra" not in requirement.partition(";")[2] and _distribution_name(requirement) not in PROVIDED_BY_LAMBDA
    )


def _distribution_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    if match is None:
        raise BundlingError(f"Cannot read a package name from the requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def default_cache_root() -> Path:
    """$GATEKEY_BUNDLE_CACHE, else the user's cache directory (XDG) under gatekey/bundles."""
    configured = os.environ.get(CACHE_ENV_VAR)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gatekey" / "bundles"


def is_left_out(relative_path: str | PurePosixPath) -> bool:
    """Whether the bundle leaves out the file at `relative_path` (relative to the bundle's root): `LEFT_OUT` names
    it, or it is the bytecode of a module whose source `LEFT_OUT` names."""
    return _LEFT_OUT_PATTERN.match(str(_source_of(PurePosixPath(relative_path)))) is not None


def _source_of(relative_path: PurePosixPath) -> PurePosixPath:
    """The source a compiled module belongs to (`pkg/__pycache__/mod.cpython-311.pyc` is `pkg/mod.py`'s)."""
    if relative_path.suffix == ".pyc" and relative_path.parent.name == "__pycache__":
        return relative_path.parent.parent / f"{relative_path.name.split('.', 1)[0]}.py"
    return relative_path


def _bytecode_path(source: Path) -> Path:
    """Where the import system of a Lambda runtime looks for `source`'s bytecode. Spelled out rather than taken
    from `importlib.util.cache_from_source`, which would follow a PYTHONPYCACHEPREFIX of the building machine."""
    return source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"


def _compile_bytecode(bundle_root: Path, sources: Iterable[PurePosixPath]) -> None:
    """Compiles each source (a path relative to `bundle_root`) for the Lambda runtime of the building Python.

    The bytecode names its source by its path in a deployed function, so it is the same wherever it was built.
    """
    for source in sources:
        try:
            py_compile.compile(
                str(bundle_root / source),
                cfile=str(_bytecode_path(bundle_root / source)),
                dfile=f"{LAMBDA_TASK_ROOT}/{source}",
                doraise=True,
                optimize=BYTECODE_OPTIMIZATION,
                invalidation_mode=BYTECODE_INVALIDATION,
            )
        except py_compile.PyCompileError as error:
            raise BundlingError(
                f"{source} does not compile for Python {building_python_version()} ({error.exc_type_name}), so no "
                f"function could import it: if nothing needs it, leave it out (LEFT_OUT in {__name__})"
            ) from None


def _kept_sources(bundle_root: Path, under: str = "") -> list[PurePosixPath]:
    """The Python sources below `bundle_root / under` that the bundle keeps, relative to `bundle_root`."""
    return sorted(
        relative
        for relative in (
            PurePosixPath(path.relative_to(bundle_root).as_posix()) for path in (bundle_root / under).rglob("*.py")
        )
        if not is_left_out(relative)
    )


def _package_files() -> Iterator[PurePosixPath]:
    """The package's files that go to Lambda, relative to the bundle's root (`gatekey/...`), in a stable order;
    never the bytecode a development checkout holds (the bundle compiles its own)."""
    for path in sorted(PACKAGE_DIR.rglob("*")):
        relative = PurePosixPath(PACKAGE_DIR.name, path.relative_to(PACKAGE_DIR).as_posix())
        if "__pycache__" in relative.parts or relative.suffix == ".pyc" or is_left_out(relative):
            continue
        if path.is_file():
            yield relative


def _copy_kept(source_root: Path, target_root: Path) -> None:
    """Copies every file below `source_root` that the bundle keeps to the same place below `target_root`."""
    for directory, _, names in os.walk(source_root):
        for name in names:
            source = Path(directory, name)
            relative = PurePosixPath(source.relative_to(source_root).as_posix())
            if is_left_out(relative):
                continue
            destination = target_root / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def _digest(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))  # length-prefixed: ("ab", "c") and ("a", "bc") differ
        digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class LambdaBundle:
    """One code asset: dependencies for `python_version` on `platform`, the package, and `configuration`.

    `platform` is Lambda's unless a bundle is built to be run on another machine (see infra/build_lambda.py): the
    same bundle but for the binary wheels of its dependencies.
    """

    configuration: GatekeyConfiguration
    python_version: str
    cache_root: Path
    platform: str = LAMBDA_PLATFORM

    @classmethod
    def for_building_python(
        cls, configuration: GatekeyConfiguration, cache_root: Path | None = None, platform: str = LAMBDA_PLATFORM
    ) -> LambdaBundle:
        lambda_runtime()  # refuses a Python that Lambda does not run before anything is built
        return cls(configuration, building_python_version(), cache_root or default_cache_root(), platform)

    @cached_property
    def requirements(self) -> tuple[str, ...]:
        return runtime_requirements()

    @property
    def bytecode_format(self) -> str:
        """What the bytecode in the bundle is: the building Python's cache tag, and how imports validate it."""
        return f"{sys.implementation.cache_tag} {BYTECODE_INVALIDATION.name.lower()} opt-{BYTECODE_OPTIMIZATION}"

    @cached_property
    def dependencies_key(self) -> str:
        """What the cached, compiled dependencies depend on; the name of their cache entry."""
        return _digest(json.dumps(self._dependencies_inputs, sort_keys=True))

    @property
    def _dependencies_inputs(self) -> dict[str, object]:
        return {
            "requirements": sorted(self.requirements),
            "platform": self.platform,
            "python": self.python_version,
            "bytecode": self.bytecode_format,
            # The entry holds bytecode for what the bundle keeps of pip's output (what it leaves out need not even
            # compile), so it is rebuilt when that changes.
            "left_out": list(LEFT_OUT),
        }

    @cached_property
    def package_fingerprint(self) -> str:
        return _digest(
            *(part for file in _package_files() for part in (str(file), (PACKAGE_DIR.parent / file).read_bytes()))
        )

    @property
    def asset_hash(self) -> str:
        """Changes exactly when the asset's content would: the dependencies (with what the bundle leaves out and the
        bytecode's format), the package or the configuration."""
        return _digest(self.dependencies_key, self.package_fingerprint, self.configuration.to_json())

    @property
    def dependencies_dir(self) -> Path:
        return self.cache_root / self.dependencies_key / "python"

    @property
    def configuration_path_in_lambda(self) -> str:
        """The absolute path of the configuration file in a deployed function, for `CONFIG_FILE_ENV_VAR`."""
        return f"{LAMBDA_TASK_ROOT}/{CONFIGURATION_FILE_NAME}"

    def build(self, target: Path) -> Path:
        """Fills `target` (existing or not) with the dependencies, the package and the configuration, compiled."""
        self._require_building_python()
        _copy_kept(self.cached_dependencies(), target)
        for file in _package_files():
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PACKAGE_DIR.parent / file, destination)
        # The package changes between builds, so it is compiled each time; the dependencies were, once, in the cache.
        _compile_bytecode(target, _kept_sources(target, PACKAGE_DIR.name))
        (target / CONFIGURATION_FILE_NAME).write_text(self.configuration.to_json(), encoding="utf-8")
        return target

    def cached_dependencies(self) -> Path:
        """The installed and compiled requirements, from the cache; pip runs only when the cache has no entry."""
        self._require_building_python()
        wheels = f"Python {self.python_version} {self.platform}"
        if self.dependencies_dir.is_dir():
            _report(f"Lambda dependencies for {wheels} from cache: {self.dependencies_dir}")
            return self.dependencies_dir
        _report(
            f"installing Lambda dependencies for {wheels} with pip and compiling them "
            f"(once; cached in {self.dependencies_dir}): {', '.join(self.requirements)}"
        )
        self.cache_root.mkdir(parents=True, exist_ok=True)
        # pip installs beside the entry and the finished directory is renamed into place, so a synth that runs
        # at the same time (or was interrupted) never sees half an installation.
        building = Path(tempfile.mkdtemp(prefix=f".{self.dependencies_key}-", dir=self.cache_root))
        try:
            installed = building / "python"
            self._pip_install(installed)
            # Only what the bundle keeps: what it leaves out may not even compile (and never runs).
            _compile_bytecode(installed, _kept_sources(installed))
            (building / "inputs.json").write_text(json.dumps(self._dependencies_inputs, sort_keys=True))
            try:
                building.rename(self.dependencies_dir.parent)
            except OSError:
                if not self.dependencies_dir.is_dir():
                    raise
        finally:
            shutil.rmtree(building, ignore_errors=True)
        return self.dependencies_dir

    def _require_building_python(self) -> None:
        if self.python_version != building_python_version():
            raise BundlingError(
                f"A bundle for Python {self.python_version} must be built by that Python: its bytecode loads only in "
                f"the Python version that compiled it, and this is Python {building_python_version()}"
            )

    def _pip_install(self, target: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",  # the bundle's bytecode is compiled afterwards, hash-based (see BYTECODE_INVALIDATION)
            "--platform",
            self.platform,
            "--implementation",
            "cp",
            "--python-version",
            self.python_version,
            "--only-binary=:all:",
            "--target",
            str(target),
            *self.requirements,
        ]
        # Fixed arguments, no shell; the requirements come from the installed distribution's metadata.
        result = subprocess.run(command, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BundlingError(f"pip could not install Gatekey's Lambda dependencies (exit {result.returncode})")


def _report(message: str) -> None:
    # stderr, like the CDK's own "Bundling asset ..." lines: stdout may be a CDK CLI's channel.
    print(f"Gatekey: {message}", file=sys.stderr, flush=True)


@jsii.implements(ILocalBundling)
class _LocalBundling:
    """CDK's hook for bundling without Docker: it always succeeds here or raises, so the image is never used."""

    def __init__(self, bundle: LambdaBundle) -> None:
        self._bundle = bundle

    # jsii hands over the BundlingOptions as one argument, where ILocalBundling's stub spells them as keywords:
    # this accepts either, and needs neither (the bundle knows what to build).
    def try_bundle(self, output_dir: str, *_options: object, **_keyword_options: object) -> bool:
        self._bundle.build(Path(output_dir))
        return True


def bundled_code(bundle: LambdaBundle) -> lambda_.Code:
    """The bundle as a Lambda code asset. Its custom hash lets the CDK skip bundling when an output directory
    already holds it, and changes whenever the bundle's content would."""
    runtime = lambda_runtime(bundle.python_version)
    local_bundling: ILocalBundling = _LocalBundling(bundle)
    return lambda_.Code.from_asset(
        str(PACKAGE_DIR),
        asset_hash=bundle.asset_hash,
        asset_hash_type=AssetHashType.CUSTOM,
        # The CDK requires an image; local bundling never declines, so Docker is never started.
        bundling=BundlingOptions(image=runtime.bundling_image, local=local_bundling),
    )
