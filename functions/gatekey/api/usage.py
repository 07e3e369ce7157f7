"""`/v1/usage`: the organisation's plan and what it used of it (DESIGN §13), for its admins."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from gatekey.api.models import UsageOut
from gatekey.api.services import current_caller, plan_assignment

router = Router()


@router.get(
    "/usage",
    summary="The organisation's plan, limits, use in the current quota period and per day (admins)",
    responses={
        200: {"description": "The plan and its use; plan null when the deployment has no plans"},
        404: {"description": "No such key in this organisation"},
    },
)
def get_usage(
    key_id: Annotated[
        str | None, Query(description="The usage this key counts in: its own plan's, or its organisation's")
    ] = None,
) -> UsageOut:
    return UsageOut.of(plan_assignment().usage(current_caller(router), key_id))
