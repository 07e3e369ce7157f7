"""Gatekey's Lambda code asset, bundled at synthesis without Docker: cached dependencies, package, configuration.

Every Gatekey function deploys the same bundle:
- the runtime requirements of the installed `gatekey` distribution (boto3 and botocore come with Lambda),
  installed by pip as arm64 wheels for the Python version that builds, and cached between synths;
- the `gatekey` package without what never runs in Lambda (`gatekey serve`, the SDK, the CLI, this CDK code);
- the configuration as JSON (`CONFIGURATION_FILE_NAME`), which the functions find through `CONFIG_FILE_ENV_VAR`
  rather than through environment variables carrying it (Lambda allows 4 KB of them).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

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
# Top-level parts of the package that run on a laptop (`gatekey serve`, the SDK, the CLI) or at synthesis (this
# package), never in Lambda.
NOT_FOR_LAMBDA = frozenset({"local", "client", "cdk", "cli.py"})
# Where Lambda unpacks the code asset, and the name of the configuration in it.
LAMBDA_TASK_ROOT = "/var/task"
CONFIGURATION_FILE_NAME = "gatekey-configuration.json"
CACHE_ENV_VAR = "GATEKEY_BUNDLE_CACHE"
# The runtime must run the Python that builds: the wheels pip picks are for that version, and bytecode compiled
# at build time (planned) only loads in the interpreter version that compiled it.
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


def _package_files() -> Iterator[Path]:
    """The package's files that go to Lambda, relative to the package directory, in a stable order."""
    for path in sorted(PACKAGE_DIR.rglob("*")):
        relative = path.relative_to(PACKAGE_DIR)
        if relative.parts[0] in NOT_FOR_LAMBDA or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if path.is_file():
            yield relative


def _digest(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))  # length-prefixed: ("ab", "c") and ("a", "bc") differ
        digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class LambdaBundle:
    """One code asset: dependencies for `python_version` on Lambda arm64, the package, and `configuration`."""

    configuration: GatekeyConfiguration
    python_version: str
    cache_root: Path

    @classmethod
    def for_building_python(cls, configuration: GatekeyConfiguration, cache_root: Path | None = None) -> LambdaBundle:
        lambda_runtime()  # refuses a Python that Lambda does not run before anything is built
        return cls(configuration, building_python_version(), cache_root or default_cache_root())

    @cached_property
    def requirements(self) -> tuple[str, ...]:
        return runtime_requirements()

    @cached_property
    def dependencies_key(self) -> str:
        """What pip's output depends on; the name of its cache entry."""
        return _digest(
            json.dumps(
                {"requirements": sorted(self.requirements), "platform": LAMBDA_PLATFORM, "python": self.python_version}
            )
        )

    @cached_property
    def package_fingerprint(self) -> str:
        return _digest(*(part for file in _package_files() for part in (str(file), (PACKAGE_DIR / file).read_bytes())))

    @property
    def asset_hash(self) -> str:
        """Changes exactly when the asset's content would: the dependencies, the package or the configuration."""
        return _digest(self.dependencies_key, self.package_fingerprint, self.configuration.to_json())

    @property
    def dependencies_dir(self) -> Path:
        return self.cache_root / self.dependencies_key / "python"

    @property
    def configuration_path_in_lambda(self) -> str:
        """The absolute path of the configuration file in a deployed function, for `CONFIG_FILE_ENV_VAR`."""
        return f"{LAMBDA_TASK_ROOT}/{CONFIGURATION_FILE_NAME}"

    def build(self, target: Path) -> Path:
        """Fills `target` (existing or not) with the dependencies, the package and the configuration."""
        dependencies = self.cached_dependencies()
        shutil.copytree(dependencies, target, dirs_exist_ok=True)
        for file in _package_files():
            destination = target / PACKAGE_DIR.name / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PACKAGE_DIR / file, destination)
        (target / CONFIGURATION_FILE_NAME).write_text(self.configuration.to_json(), encoding="utf-8")
        return target

    def cached_dependencies(self) -> Path:
        """The installed requirements, from the cache; pip runs only when the cache has no entry for them."""
        if self.dependencies_dir.is_dir():
            _report(f"Lambda dependencies for Python {self.python_version} arm64 from cache: {self.dependencies_dir}")
            return self.dependencies_dir
        _report(
            f"installing Lambda dependencies for Python {self.python_version} arm64 with pip "
            f"(once; cached in {self.dependencies_dir}): {', '.join(self.requirements)}"
        )
        self.cache_root.mkdir(parents=True, exist_ok=True)
        # pip installs beside the entry and the finished directory is renamed into place, so a synth that runs
        # at the same time (or was interrupted) never sees half an installation.
        building = Path(tempfile.mkdtemp(prefix=f".{self.dependencies_key}-", dir=self.cache_root))
        try:
            self._pip_install(building / "python")
            (building / "inputs.json").write_text(
                json.dumps(
                    {"requirements": self.requirements, "platform": LAMBDA_PLATFORM, "python": self.python_version}
                )
            )
            try:
                building.rename(self.dependencies_dir.parent)
            except OSError:
                if not self.dependencies_dir.is_dir():
                    raise
        finally:
            shutil.rmtree(building, ignore_errors=True)
        return self.dependencies_dir

    def _pip_install(self, target: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--platform",
            LAMBDA_PLATFORM,
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
