"""The console's way in (DESIGN §12): sign-in and sign-out, invitations. Sign-in and accepting an invitation are
public routes; the session they lead to is a cookie the authorizer checks like any key."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponseHeader
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from gatekey.api.models import (
    AcceptInvitationIn,
    InvitationAcceptedOut,
    InvitationOut,
    OrgOut,
    SessionOut,
    SignInIn,
    UserOut,
)
from gatekey.api.services import console_access, current_caller, settings
from gatekey.domain.authentication import SESSION_COOKIE
from gatekey.domain.clock import to_iso
from gatekey.domain.console_access import SESSION_LIFETIME

router = Router()
SET_COOKIE: dict[str, OpenAPIResponseHeader] = {
    "Set-Cookie": OpenAPIResponseHeader(
        description=f"The session: `{SESSION_COOKIE}`, HttpOnly, SameSite=Strict, Secure when deployed",
        schema={"type": "string"},
    )
}


def session_cookie(value: str, max_age: int) -> Cookie:
    """HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure but on `gatekey serve`
    (plain http on the developer's machine)."""
    return Cookie(
        name=SESSION_COOKIE,
        value=value,
        path="/",
        secure=settings().stage != "local",
        http_only=True,
        max_age=max_age,
        same_site=SameSite.STRICT_MODE,
    )


@router.post(
    "/sessions",
    summary="Sign in to the console with email and password; the session is a cookie",
    responses={
        201: {"description": "Signed in: the session cookie is set for 12 hours", "headers": SET_COOKIE},
        401: {"description": "The email or the password is not right (said alike for an email nobody has)"},
        429: {"description": "Too many sign-in attempts for this email (5 in 15 minutes): wait Retry-After seconds"},
    },
)
def sign_in(body: Annotated[SignInIn, Body()]) -> Response[str]:
    session = console_access().sign_in(body.org_id, body.email, body.password)
    answer = SessionOut(
        user=UserOut.of(session.user), org=OrgOut.of(session.org), expires_at=to_iso(session.expires_at)
    )
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=answer.model_dump_json(),
        cookies=[session_cookie(session.token.value, int(SESSION_LIFETIME.total_seconds()))],
    )


@router.delete(
    "/sessions/current",
    summary="Sign out: the console session ends now, for every request made with its cookie",
    responses={
        204: {"description": "Signed out; the cookie is cleared", "headers": SET_COOKIE},
        404: {"description": "The request was made with an API key, not a console session"},
    },
)
def sign_out() -> Response[str]:
    console_access().sign_out(current_caller(router))
    return Response(status_code=204, body="", cookies=[session_cookie("", 0)])


@router.post(
    "/users/<user_id>/invitation",
    summary="Invite a user to the console: a one-time link, valid 7 days, where they set a password (admins only)",
    responses={
        201: {
            "description": "The link, shown once, to the inviting admin only (and sealed on the deployment's own "
            "event bus for the provider's mailer; never to a webhook)"
        },
    },
)
def invite_user(user_id: Annotated[str, Path(description="The user's id, `usr_…`")]) -> tuple[InvitationOut, int]:
    invitation = console_access().invite(current_caller(router), user_id)
    return InvitationOut(invitation_url=invitation.url, expires_at=to_iso(invitation.expires_at)), 201


@router.post(
    "/invitations/accept",
    summary="Set a password with an invitation's token; then sign in",
    responses={
        200: {"description": "The password is set; the link no longer works"},
        401: {"description": "The link is not valid: used already, expired, or replaced by a newer invitation"},
    },
)
def accept_invitation(body: Annotated[AcceptInvitationIn, Body()]) -> InvitationAcceptedOut:
    user = console_access().accept_invitation(body.token, body.password)
    return InvitationAcceptedOut(org_id=user.org_id, email=user.email)
