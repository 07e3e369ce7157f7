"""Runs code from a built Lambda bundle the way a deployed function runs it, for tests/infra and `make bench`.

A fresh interpreter whose import path is the bundle laid out as Lambda unpacks the CDK's asset zip, then boto3
and its dependencies from outside the bundle (Lambda's Python runtime provides them), then the standard library:
no site-packages, no PYTHON* variables, no user site, and no bytecode written (Lambda's /var/task is read-only).
"""

from __future__ import annotations

import calendar
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gatekey.cdk.bundling import CONFIGURATION_FILE_NAME
from gatekey.configuration import CONFIG_FILE_ENV_VAR
from gatekey.settings import STAGES
from gatekey.storage.sealing import KMS_KEY_ENV_VAR, SECRET_MAC_KEY_ENV_VAR
from gatekey.storage.tables import stage_table_names

# The CDK writes every entry of an asset zip with this time (deterministic zips), and Lambda unpacks it so.
ASSET_ZIP_TIME = calendar.timegm((1980, 1, 1, 0, 0, 0))
# What Lambda's Python runtime provides besides the standard library: boto3 and what it imports.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
REGION = "us-east-1"


def lay_out_as_deployed(bundle: Path, task_root: Path, *, bytecode: bool = True) -> Path:
    """A copy of `bundle` at `task_root` as Lambda unpacks its asset zip: every file and directory stamped with
    the zip's time. Without `bytecode`, as bundles were before they carried it (no __pycache__ at all)."""
    shutil.copytree(bundle, task_root, ignore=None if bytecode else shutil.ignore_patterns("__pycache__"))
    for path in (task_root, *task_root.rglob("*")):
        os.utime(path, (ASSET_ZIP_TIME, ASSET_ZIP_TIME), follow_symlinks=False)
    return task_root


def lambda_runtime_packages(directory: Path) -> Path:
    """`directory`, holding only boto3 and its dependencies (links to this environment's), as Lambda provides them."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not installed here"
        origin = Path(spec.origin)
        installed = origin.parent if origin.name == "__init__.py" else origin
        (directory / installed.name).symlink_to(installed)
    return directory


def function_environment(task_root: Path, stage: str = "dev", **overrides: str) -> dict[str, str]:
    """The environment of a deployed function of `stage` whose code is at `task_root`: the stage's settings and
    table names as the construct sets them, the bundle's configuration file, and what Lambda sets. Credentials are
    dummies and no AWS configuration file is read: nothing calls AWS unless `overrides` point at an endpoint."""
    return {
        **STAGES[stage].as_environment(),
        **stage_table_names(stage),
        KMS_KEY_ENV_VAR: "alias/gatekey-bench",
        SECRET_MAC_KEY_ENV_VAR: "alias/gatekey-bench-mac",
        CONFIG_FILE_ENV_VAR: str(task_root / CONFIGURATION_FILE_NAME),
        "POWERTOOLS_SERVICE_NAME": "gatekey",
        "POWERTOOLS_METRICS_NAMESPACE": "Gatekey",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": "/usr/bin:/bin",
        **overrides,
    }


@dataclass(frozen=True)
class DeployedPython:
    """Fresh interpreters that see `task_root` (the function's code) and `runtime_packages`, as Lambda's do."""

    task_root: Path
    runtime_packages: Path
    environment: dict[str, str]

    def command(self, code: str) -> list[str]:
        # -I: no PYTHON* variables, no user site, no script directory; -S: no site-packages (the virtualenv's are
        # out of reach); -B: nothing written into the task root, which is read-only in Lambda.
        prelude = f"import sys; sys.path[:0] = [{str(self.task_root)!r}, {str(self.runtime_packages)!r}]\n"
        return [sys.executable, "-I", "-S", "-B", "-c", prelude + code]

    def run(self, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(code), env=self.environment, capture_output=True, text=True, check=False)
