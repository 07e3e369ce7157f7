"""`/v1/permissions`: the catalog keys are granted from (DESIGN §11), for any valid key."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from gatekey.api.models import PermissionListOut, PermissionOut
from gatekey.api.services import configuration, current_caller

router = Router()


@router.get("/permissions", summary="The permission catalog: each resource a key may be granted, and up to which level")
def list_permissions() -> PermissionListOut:
    current_caller(router)  # any valid key may read it, but only through the authorizer
    return PermissionListOut(data=[PermissionOut.of(resource) for resource in configuration().catalog.grantable])
