"""Builds build/lambda/, the one code asset every Gatekey function deploys, without Docker."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"
PACKAGE_SOURCE = REPO_ROOT / "functions" / "gatekey"
LAMBDA_BUILD_DIR = REPO_ROOT / "build" / "lambda"

# The Lambda python3.12 arm64 runtime that infra/constructs/functions.py deploys to.
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_PYTHON_VERSION = "3.12"
# The Lambda runtime ships these; bundling our own would only grow the asset.
PROVIDED_BY_LAMBDA = frozenset({"boto3", "botocore"})
# Parts of the package that run on a laptop (`gatekey serve`, the SDK and CLI), never in Lambda.
LOCAL_ONLY_SUBPACKAGES = frozenset({"local", "client"})


def runtime_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The [project.dependencies] of pyproject.toml that the asset must carry."""
    dependencies: list[str] = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [requirement for requirement in dependencies if _distribution_name(requirement) not in PROVIDED_BY_LAMBDA]


def _distribution_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    if match is None:
        raise ValueError(f"Cannot read a package name from the requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def _ignore_local_only(directory: str, names: list[str]) -> set[str]:
    ignored = {name for name in names if name == "__pycache__" or name.endswith(".pyc")}
    if Path(directory) == PACKAGE_SOURCE:
        ignored |= LOCAL_ONLY_SUBPACKAGES & set(names)
    return ignored


def build_lambda(target: Path = LAMBDA_BUILD_DIR) -> Path:
    """Wipes `target` and fills it with the runtime dependencies (arm64 wheels) and the gatekey package."""
    requirements = runtime_requirements()
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run(  # noqa: S603 - fixed arguments, no shell; the requirements come from our pyproject.toml
        [
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
            LAMBDA_PYTHON_VERSION,
            "--only-binary=:all:",
            "--target",
            str(target),
            *requirements,
        ],
        check=True,
    )
    shutil.copytree(PACKAGE_SOURCE, target / PACKAGE_SOURCE.name, ignore=_ignore_local_only)
    size_mib = sum(path.stat().st_size for path in target.rglob("*") if path.is_file()) / 2**20
    print(f"Built {target.relative_to(REPO_ROOT)} ({size_mib:.1f} MiB) for Python {LAMBDA_PYTHON_VERSION} arm64:")
    print(f"  {', '.join(requirements)} + gatekey (without {', '.join(sorted(LOCAL_ONLY_SUBPACKAGES))})")
    return target


if __name__ == "__main__":
    build_lambda()
