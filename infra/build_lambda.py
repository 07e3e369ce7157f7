"""`make build`: writes build/lambda/, the code asset every Gatekey function deploys, as synthesis bundles it."""

from __future__ import annotations

import shutil
from pathlib import Path

from gatekey.cdk.bundling import LambdaBundle, runtime_requirements
from gatekey.configuration import load_configuration

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_BUILD_DIR = REPO_ROOT / "build" / "lambda"


def build_lambda(target: Path = LAMBDA_BUILD_DIR) -> Path:
    """Wipes `target` and fills it with the bundle of the demo store's configuration (dependencies from the cache)."""
    bundle = LambdaBundle.for_building_python(load_configuration())
    shutil.rmtree(target, ignore_errors=True)
    bundle.build(target)
    size_mib = sum(path.stat().st_size for path in target.rglob("*") if path.is_file()) / 2**20
    print(f"Built {target} ({size_mib:.1f} MiB) for Python {bundle.python_version} arm64:")
    print(f"  {', '.join(runtime_requirements())} + gatekey + {bundle.configuration.source} as JSON")
    return target


if __name__ == "__main__":
    build_lambda()
