"""`/v1/me`: validate a key and say who it is."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from gatekey.api.models import CallerConnectionOut, KeyOut, MeOut, OrgOut, UserOut
from gatekey.api.services import connection_service, current_caller, directory, key_lifecycle
from gatekey.domain.clock import utc_now
from gatekey.domain.errors import NotFoundError

router = Router()


@router.get(
    "/me",
    summary="Who the calling key is: key, organisation, user and connection",
    responses={200: {"description": "The caller"}, 404: {"description": "The key's organisation no longer exists"}},
)
def who_am_i() -> MeOut:
    caller = current_caller(router)
    key = key_lifecycle().own_key(caller)
    org = directory().get_org(caller.org_id)
    if org is None:
        raise NotFoundError("the key's organisation no longer exists")
    user = directory().get_user(org.org_id, caller.user_id) if caller.user_id else None
    connection = connection_service().of_caller(caller)
    return MeOut(
        key=KeyOut.of(key, utc_now()),
        org=OrgOut.of(org),
        user=UserOut.of(user) if user else None,
        connection=CallerConnectionOut.of(connection) if connection else None,
    )
