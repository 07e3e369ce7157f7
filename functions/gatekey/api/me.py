"""`/v1/me`: validate a key and say who it is."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from gatekey.api.models import KeyOut, MeOut, OrgOut, UserOut
from gatekey.api.services import current_caller, directory, key_lifecycle
from gatekey.domain.clock import to_iso, utc_now
from gatekey.domain.errors import NotFoundError

router = Router()


@router.get("/me", summary="Who the calling key is: key, organisation, user and connection")
def who_am_i() -> MeOut:
    caller = current_caller(router)
    key = key_lifecycle().get(caller, caller.key_id)
    org = directory().get_org(caller.org_id)
    if org is None:
        raise NotFoundError("the key's organisation no longer exists")
    user = directory().get_user(org.org_id, caller.user_id) if caller.user_id else None
    return MeOut(
        key=KeyOut.of(key, utc_now()),
        org=OrgOut(id=org.org_id, name=org.name, key_limit=org.key_limit, created_at=to_iso(org.created_at)),
        user=UserOut(id=user.user_id, email=user.email, name=user.name, role=user.role) if user else None,
        connection=None,
    )
