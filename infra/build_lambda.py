"""`make build`: writes build/lambda/, the code asset every Gatekey function deploys, as synthesis bundles it.

The asset carries Lambda's arm64 binaries (pydantic-core, argon2's binding, cffi's backend), which a machine of
another architecture cannot load. To import and time the functions here (`make bench`, tests/infra), `make build`
also writes the same bundle for this machine, `runnable_build_dir()`: it differs only in those binary wheels.
"""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path

from gatekey.cdk.bundling import LAMBDA_PLATFORM, BundlingError, LambdaBundle, runtime_requirements
from gatekey.configuration import load_configuration

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_BUILD_DIR = REPO_ROOT / "build" / "lambda"


def this_machine_platform() -> str:
    """The wheel platform of this machine, as pip names it for `--platform`: manylinux2014 like Lambda's."""
    if sys.platform != "linux":
        raise BundlingError(
            f"Gatekey's functions can be run outside Lambda only on Linux (their binary wheels are manylinux), "
            f"not on {sys.platform}"
        )
    return f"manylinux2014_{platform.machine()}"


def runnable_build_dir() -> Path:
    """Where `make build` writes the bundle this machine can run: the asset itself on Lambda's architecture."""
    here = this_machine_platform()
    return LAMBDA_BUILD_DIR if here == LAMBDA_PLATFORM else LAMBDA_BUILD_DIR.with_name(f"lambda-{platform.machine()}")


def build_lambda(target: Path = LAMBDA_BUILD_DIR, wheel_platform: str = LAMBDA_PLATFORM) -> Path:
    """Wipes `target` and fills it with the bundle of the demo store's configuration (dependencies from the cache),
    for Lambda's platform unless told otherwise."""
    bundle = LambdaBundle.for_building_python(load_configuration(), platform=wheel_platform)
    shutil.rmtree(target, ignore_errors=True)
    bundle.build(target)
    files = [path for path in target.rglob("*") if path.is_file()]
    bytecode_mib = sum(path.stat().st_size for path in files if path.suffix == ".pyc") / 2**20
    size_mib = sum(path.stat().st_size for path in files) / 2**20
    print(
        f"Built {target} ({size_mib:.1f} MiB, {bytecode_mib:.1f} of them bytecode) for Python {bundle.python_version}"
    )
    print(f"  {wheel_platform}: {', '.join(runtime_requirements())} + gatekey + {bundle.configuration.source} as JSON")
    return target


def main() -> None:
    build_lambda()
    try:
        runnable = runnable_build_dir()
    except BundlingError as reason:
        print(f"No bundle for this machine (`make bench` needs one): {reason}")
        return
    if runnable != LAMBDA_BUILD_DIR:
        build_lambda(runnable, this_machine_platform())


if __name__ == "__main__":
    main()
