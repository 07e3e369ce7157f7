"""`make bench`: the functions' cold start as deployed, from what `make build` wrote, each figure beside its baseline.

The bundle is laid out as Lambda unpacks the CDK's asset zip (every file stamped 1980-01-01) and imported the way
Lambda imports it (tests/deployed_bundle.py: the bundle first, boto3 from outside it, nothing from this virtualenv,
nothing written back). Measured in fresh interpreters, best of `COLD_RUNS` each since noise only ever adds time,
interleaved so that drift in the machine's load hits all alike:
- the import of the authorizer's handler module (which loads the configuration and creates its DynamoDB client)
  ÷ `import boto3` + a DynamoDB client in the same kind of interpreter (target ≤ 1.25);
- the same for the management API's handler module;
- both again from the bundle as it was before it carried bytecode, which Lambda compiles from source on every cold
  start (/var/task is read-only, so nothing is cached).
On a machine that cannot load Lambda's arm64 binaries, `make build` wrote the same bundle for this machine's
(infra/build_lambda.py), and that is what runs here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from gatekey.api_gateway import AUTHORIZER, MANAGEMENT_API, LambdaFunction
from infra.build_lambda import LAMBDA_BUILD_DIR, runnable_build_dir
from tests.deployed_bundle import DeployedPython, function_environment, lambda_runtime_packages, lay_out_as_deployed

COLD_RUNS = 15
AUTHORIZER_TARGET = 1.25
MEASURED: tuple[LambdaFunction, ...] = (AUTHORIZER, MANAGEMENT_API)

HANDLER_IMPORT = """
import importlib, time
start = time.perf_counter()
importlib.import_module({module!r})
print(time.perf_counter() - start)
"""
BOTO3_CLIENT = """
import time
start = time.perf_counter()
import boto3
boto3.client("dynamodb")
print(time.perf_counter() - start)
"""


def handler_module(definition: LambdaFunction) -> str:
    return definition.handler.rpartition(".")[0]


def seconds(python: DeployedPython, code: str) -> float:
    completed = python.run(code)
    if completed.returncode != 0:
        raise RuntimeError(f"a cold start failed:\n{completed.stderr}")
    return float(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    bundle = runnable_build_dir()
    if not bundle.is_dir():
        raise SystemExit(f"{bundle} does not exist: run `make build` first")
    with tempfile.TemporaryDirectory() as directory:
        workspace = Path(directory)
        runtime_packages = lambda_runtime_packages(workspace / "runtime")
        layouts = {
            bytecode: lay_out_as_deployed(
                bundle, workspace / ("task" if bytecode else "task-without-bytecode"), bytecode=bytecode
            )
            for bytecode in (True, False)
        }
        pythons = {
            bytecode: DeployedPython(task_root, runtime_packages, function_environment(task_root))
            for bytecode, task_root in layouts.items()
        }
        baseline_runs: list[float] = []
        handler_runs: dict[tuple[str, bool], list[float]] = {
            (definition.name, bytecode): [] for definition in MEASURED for bytecode in (True, False)
        }
        for _ in range(COLD_RUNS):
            baseline_runs.append(seconds(pythons[True], BOTO3_CLIENT))
            for definition in MEASURED:
                for bytecode in (True, False):
                    code = HANDLER_IMPORT.format(module=handler_module(definition))
                    handler_runs[definition.name, bytecode].append(seconds(pythons[bytecode], code))

    baseline = min(baseline_runs)
    print(f"Gatekey cold start as deployed (best of {COLD_RUNS} fresh interpreters each, one run)")
    print(f"  bundle: {bundle.relative_to(LAMBDA_BUILD_DIR.parent.parent)}", end="")
    print("" if bundle == LAMBDA_BUILD_DIR else " (build/lambda with this machine's binary wheels)")
    print(f"  import boto3 + DynamoDB client        {baseline * 1000:7.1f} ms   (baseline)")
    for definition in MEASURED:
        print(f"  import {handler_module(definition)}")
        for bytecode in (True, False):
            cold = min(handler_runs[definition.name, bytecode])
            label = "with bytecode (as built)" if bytecode else "without bytecode (the old bundle)"
            target = f"   (target <= {AUTHORIZER_TARGET})" if definition == AUTHORIZER and bytecode else ""
            print(f"    {label:34}{cold * 1000:7.1f} ms   ratio {cold / baseline:5.2f}{target}")


if __name__ == "__main__":
    main()
