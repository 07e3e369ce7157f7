"""`/v1/orgs`: what a partner key does: customer orgs, their users, and keys for those users."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from gatekey.api.keys import with_secret
from gatekey.api.models import (
    CreateOrgIn,
    CreateUserIn,
    KeySettingsIn,
    KeyWithSecretOut,
    OrgListOut,
    OrgOut,
    PlanIn,
    UserOut,
)
from gatekey.api.pagination import Cursor, Limit, decode_cursor, encode_cursor
from gatekey.api.services import current_caller, partner_orgs

router = Router()
OrgId = Annotated[str, Path(description="The customer org's id, `org_…`")]
UserId = Annotated[str, Path(description="The user's id, `usr_…`")]


@router.post(
    "/orgs", summary="Create a customer organisation (partner keys)", responses={201: {"description": "Created"}}
)
def create_org(body: Annotated[CreateOrgIn, Body()]) -> tuple[OrgOut, int]:
    org = partner_orgs().create_org(current_caller(router), body.name, body.key_limit)
    return OrgOut.of(org), 201


@router.get("/orgs", summary="List the organisations this partner created, newest first")
def list_orgs(
    limit: Limit = 50,
    cursor: Cursor = None,
) -> OrgListOut:
    partner = current_caller(router)
    orgs, after = partner_orgs().list_orgs(partner, limit, decode_cursor(partner.org_id, "orgs", cursor))
    return OrgListOut(data=[OrgOut.of(org) for org in orgs], next_cursor=encode_cursor(partner.org_id, "orgs", after))


@router.get("/orgs/<org_id>", summary="Read one of this partner's organisations")
def get_org(org_id: OrgId) -> OrgOut:
    return OrgOut.of(partner_orgs().get_org(current_caller(router), org_id))


@router.delete("/orgs/<org_id>", summary="Delete one of this partner's organisations, with its users and keys")
def delete_org(org_id: OrgId) -> OrgOut:
    return OrgOut.of(partner_orgs().delete_org(current_caller(router), org_id))


@router.post(
    "/orgs/<org_id>/users",
    summary="Add a user to one of this partner's organisations",
    responses={201: {"description": "Created"}},
)
def create_org_user(org_id: OrgId, body: Annotated[CreateUserIn, Body()]) -> tuple[UserOut, int]:
    user = partner_orgs().add_user(current_caller(router), org_id, body.to_new_user())
    return UserOut.of(user), 201


@router.post(
    "/orgs/<org_id>/users/<user_id>/keys",
    summary="Mint a personal key for a user of one of this partner's organisations",
    responses={201: {"description": "Created"}},
)
def create_org_user_key(
    org_id: OrgId, user_id: UserId, body: Annotated[KeySettingsIn, Body()]
) -> tuple[KeyWithSecretOut, int]:
    key, token = partner_orgs().mint_user_key(current_caller(router), org_id, user_id, body.to_new_key())
    return with_secret(key, token.value), 201


@router.put(
    "/orgs/<org_id>/plan",
    summary="Put one of this partner's organisations on a plan (DESIGN §13); its keys' next requests count there",
    responses={
        200: {"description": "The organisation, on the plan (the plan it was on already changes nothing)"},
        409: {
            "description": "plans_unavailable: the deployment has no plans; plan_not_deployed: the stage has no "
            "usage plan for it yet"
        },
    },
)
def set_org_plan(org_id: OrgId, body: Annotated[PlanIn, Body()]) -> OrgOut:
    org, _ = partner_orgs().set_plan(current_caller(router), org_id, body.plan)
    return OrgOut.of(org)
