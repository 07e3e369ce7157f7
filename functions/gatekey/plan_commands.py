"""`gatekey plans`: the provider puts orgs and keys on plans (DESIGN §13), on a deployed stage or on `gatekey serve`.

`assign` moves an org (or a key, which then counts on its own) to a plan, as `PUT /v1/orgs/{org_id}/plan` does for
a partner; `sync`, after plans are first deployed or changed, puts every org that has no plan (or a plan the
configuration lost) on the default one, and every org's API Gateway key back into its plan's usage plans.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from gatekey.cli import LOCAL_STAGE, _local_storage_unnamed, _OptionError, _point_at_stage, _use_configuration


def assign(arguments: argparse.Namespace) -> int:
    """Exit 0 when the org or key is on the plan (changed or already), 2 when it cannot be (said why)."""

    def act() -> str:
        from gatekey.api import services

        assignment = services.plan_assignment()
        if arguments.org:
            org, changed = assignment.assign_org(arguments.org, arguments.plan)
            return f"{org.org_id} is on the plan {org.plan}" + ("" if changed else " (it was already)")
        key, changed = assignment.assign_key(arguments.key, None if arguments.shared else arguments.plan)
        where = f"the plan {key.plan} of its own" if key.plan else "its organisation's plan"
        return f"{key.key_id} counts on {where}" + ("" if changed else " (it did already)")

    return _run(arguments, act)


def sync(arguments: argparse.Namespace) -> int:
    """Every org on a plan of the configuration, its API Gateway key in that plan's usage plans (idempotent)."""

    def act() -> str:
        from gatekey.api import services

        assignment = services.plan_assignment()
        if not assignment.enabled:
            return "the configuration has no plans: nothing to do"
        orgs = list(services.directory().all_orgs())
        moved = sum(assignment.sync_org(org) for org in orgs)
        return f"{len(orgs)} organisation(s) checked, {moved} put on the default plan"

    return _run(arguments, act)


def _run(arguments: argparse.Namespace, act: Callable[[], str]) -> int:
    from gatekey.domain.errors import GatekeyError, StorageUnavailableError

    stage = arguments.stage
    if _local_storage_unnamed(stage, arguments.storage_endpoint):
        return 2
    try:
        _use_configuration(arguments.config)
    except _OptionError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        _point_at_stage(stage, arguments.region, arguments.storage_endpoint)
        print(act())
    except StorageUnavailableError as error:
        cause = error.__cause__ or error
        print(f"gatekey: cannot use the {stage} stage: " + " ".join(str(cause).split()), file=sys.stderr)
        return 2
    except GatekeyError as error:
        print(f"gatekey: {error.message}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"gatekey: cannot use the {stage} stage: " + " ".join(str(error).split()), file=sys.stderr)
        return 2
    return 0


def add_plans_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gatekey.settings import STAGES

    parser = commands.add_parser(
        "plans",
        help="put organisations and keys on plans (rate limits and quotas)",
        description="Plans are the configuration's [plans.<name>] tables, enforced by API Gateway's usage plans.",
    )
    actions = parser.add_subparsers(dest="action", required=True)

    def stage_options(action: argparse.ArgumentParser) -> None:
        action.add_argument("--stage", default=LOCAL_STAGE, choices=list(STAGES), help="default: local")
        action.add_argument("--config", help="the configuration file the stage runs with (its plans)")
        action.add_argument(
            "--storage-endpoint", help="the storage endpoint (local: the URL `gatekey serve` printed as storage)"
        )
        action.add_argument("--region", help="a deployed stage's AWS region (default: boto3's)")

    assigning = actions.add_parser(
        "assign",
        help="move an organisation, or a key, to a plan",
        description=(
            "Move an organisation to a plan: all its keys count there from their next request. A key given a plan "
            "of its own counts apart from its organisation (it takes one of AWS's 10,000 API keys of the region); "
            "--shared takes it back to its organisation's plan. Assigning the current plan changes nothing."
        ),
    )
    who = assigning.add_mutually_exclusive_group(required=True)
    who.add_argument("--org", metavar="ORG_ID")
    who.add_argument("--key", metavar="KEY_ID")
    which = assigning.add_mutually_exclusive_group(required=True)
    which.add_argument("--plan", metavar="NAME")
    which.add_argument("--shared", action="store_true", help="(with --key) back to its organisation's plan")
    stage_options(assigning)
    assigning.set_defaults(run=_checked_assign)

    syncing = actions.add_parser(
        "sync",
        help="put every organisation on a plan of the configuration",
        description=(
            "Run after deploying plans for the first time, or after renaming or removing one: organisations without "
            "a plan, or on a plan the configuration no longer has, go on the default plan, and every organisation's "
            "API Gateway key is put back into its plan's usage plans."
        ),
    )
    stage_options(syncing)
    syncing.set_defaults(run=sync)


def _checked_assign(arguments: argparse.Namespace) -> int:
    if arguments.shared and not arguments.key:
        print("gatekey: --shared takes a key back to its organisation's plan: give --key", file=sys.stderr)
        return 2
    return assign(arguments)
