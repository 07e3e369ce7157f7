"""The CDK app: `-c stage=dev|prod` picks the stage, `-c authorizer_cache_ttl=N` overrides its cache TTL and
`-c config=FILE` names the configuration file (DESIGN §11, §13; default: the demo store's)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

INFRA_DIR = Path(__file__).resolve().parent
REPO_ROOT = INFRA_DIR.parent
# `python infra/app.py` (what cdk.json runs) puts infra/ first on the import path; the app's modules are
# imported as the `infra` package, from the repository root.
if sys.path and Path(sys.path[0]).resolve() == INFRA_DIR:
    sys.path[0] = str(REPO_ROOT)

from aws_cdk import App, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from gatekey.cdk.stage import DEPLOYABLE_STAGES, StageSelectionError, deployable_stage_settings  # noqa: E402
from gatekey.configuration import ConfigurationError  # noqa: E402
from gatekey.settings import StageSettings  # noqa: E402
from infra.stack import GatekeyStack  # noqa: E402

DEFAULT_STAGE = "dev"


def cdk_json_context() -> dict[str, Any]:
    """The context of cdk.json, so that a run without the CDK CLI synthesizes what `cdk synth` does."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


def stage_settings(app: App) -> StageSettings:
    stage = str(app.node.try_get_context("stage") or DEFAULT_STAGE)
    if stage not in DEPLOYABLE_STAGES:
        raise StageSelectionError(f"Unknown stage {stage!r}: use -c stage=" + " or -c stage=".join(DEPLOYABLE_STAGES))
    ttl = app.node.try_get_context("authorizer_cache_ttl")
    if ttl is None:
        return deployable_stage_settings(stage)
    try:
        seconds = int(ttl)
    except ValueError:
        raise StageSelectionError(f"-c authorizer_cache_ttl={ttl!r} is not a whole number of seconds") from None
    try:
        return deployable_stage_settings(stage, seconds)
    except StageSelectionError as error:
        raise StageSelectionError(f"-c {error}") from None


def add_gatekey(app: App) -> GatekeyStack:
    """Adds the stack of the stage the context names, checked by cdk-nag's AWS Solutions rules at synthesis."""
    settings = stage_settings(app)
    config = app.node.try_get_context("config")
    stack = GatekeyStack(app, f"Gatekey-{settings.stage}", settings=settings, config=str(config) if config else None)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack


def main() -> None:
    # The CDK CLI tells the app where to write; run on its own, the app writes to cdk.out like the CLI would.
    outdir = None if "CDK_OUTDIR" in os.environ else str(REPO_ROOT / "cdk.out")
    app = App(context=cdk_json_context(), outdir=outdir)
    try:
        add_gatekey(app)
    except StageSelectionError as error:
        sys.exit(f"error: {error}")
    except ConfigurationError as error:  # one line per problem, no traceback
        sys.exit(str(error))
    app.synth()


if __name__ == "__main__":
    main()
