"""`/v1/users`: the organisation's users; deleting one revokes and deletes their personal keys."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from gatekey.api.models import CreateUserIn, UserListOut, UserOut
from gatekey.api.pagination import Cursor, Limit, decode_cursor, encode_cursor
from gatekey.api.services import current_caller, user_administration

router = Router()
UserId = Annotated[str, Path(description="The user's id, `usr_…`")]


@router.post(
    "/users",
    summary="Add a user to the organisation",
    responses={201: {"description": "Created"}, 409: {"description": "A user with this email exists"}},
)
def create_user(body: Annotated[CreateUserIn, Body()]) -> tuple[UserOut, int]:
    user = user_administration().create(current_caller(router), body.to_new_user())
    return UserOut.of(user), 201


@router.get("/users", summary="List the organisation's users")
def list_users(
    limit: Limit = 50,
    cursor: Cursor = None,
) -> UserListOut:
    caller = current_caller(router)
    users, after = user_administration().list(caller, limit, decode_cursor(caller.org_id, "users", cursor))
    return UserListOut(
        data=[UserOut.of(user) for user in users], next_cursor=encode_cursor(caller.org_id, "users", after)
    )


@router.get("/users/<user_id>", summary="Read one user")
def get_user(user_id: UserId) -> UserOut:
    return UserOut.of(user_administration().get(current_caller(router), user_id))


@router.delete("/users/<user_id>", summary="Delete a user; their personal keys are revoked and deleted")
def delete_user(user_id: UserId) -> UserOut:
    return UserOut.of(user_administration().delete(current_caller(router), user_id))
