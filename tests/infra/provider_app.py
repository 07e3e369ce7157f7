"""Runs a provider's CDK app the way `cdk synth` does, with Gatekey installed from a wheel of this repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
INVOICES_EXAMPLE = REPO_ROOT / "examples" / "invoices"
# The jsii runtime prints a notice about the Node.js version on stderr, each line as a Python bytes literal.
_JSII_NODE_NOTICE_PREFIX = "b'"


def install_gatekey_wheel(workdir: Path) -> Path:
    """Builds this repository's wheel and installs it, without dependencies, into a directory of its own."""
    wheels = workdir / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(REPO_ROOT)],
        check=True,
    )
    (wheel,) = wheels.glob("gatekey-*.whl")
    site = workdir / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
        check=True,
    )
    return site


def copy_example(destination: Path) -> Path:
    """A copy of the Invoices example outside the repository, as a provider would have its own project."""
    shutil.copytree(INVOICES_EXAMPLE, destination, ignore=shutil.ignore_patterns("cdk.out", "__pycache__"))
    return destination


@dataclass(frozen=True)
class AppRun:
    returncode: int
    stdout: str
    stderr: str
    outdir: Path

    @property
    def messages(self) -> list[str]:
        """What the app itself wrote to stderr, without the jsii runtime's Node.js notice."""
        return [line for line in self.stderr.splitlines() if line and not line.startswith(_JSII_NODE_NOTICE_PREFIX)]

    def template(self, stack_name: str) -> dict[str, Any]:
        template: dict[str, Any] = json.loads((self.outdir / f"{stack_name}.template.json").read_text())
        return template

    @property
    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report


def provider_environment(site: Path, bundle_cache: Path, **extra: str) -> dict[str, str]:
    """The environment of a provider's shell: `python3` has the CDK libraries (this virtualenv), and Gatekey comes
    from the installed wheel, first on the import path, never from this checkout."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(site),
        "GATEKEY_BUNDLE_CACHE": str(bundle_cache),
        **extra,
    }


def synth(app_dir: Path, outdir: Path, environment: dict[str, str]) -> AppRun:
    """What `cdk synth` does: runs cdk.json's app command in the app's directory, with cdk.json's context in
    CDK_CONTEXT_JSON and the cloud assembly directory in CDK_OUTDIR."""
    cdk_json = json.loads((app_dir / "cdk.json").read_text())
    completed = subprocess.run(
        ["/bin/sh", "-c", cdk_json["app"]],
        cwd=app_dir,
        env={**environment, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(cdk_json.get("context", {}))},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return AppRun(completed.returncode, completed.stdout, completed.stderr, outdir)
