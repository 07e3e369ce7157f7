"""The authorizer with console sessions (DESIGN §12): the cookie counts only with the console's header and only where
nothing else is presented, on Gatekey's own routes, with the same one read as a key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gatekey.api import services
from gatekey.configuration import active_configuration
from gatekey.domain.clock import utc_now
from gatekey.domain.console_access import person_authority, session_permissions
from gatekey.domain.directory import Organisation, User
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.domain.permissions import Level
from gatekey.domain.tokens import parse_token
from gatekey.storage.directory_repository import DirectoryRepository
from tests.integration.authorizer_events import allowed_resources, authorizer_event, invoke


@pytest.fixture
def person(directory: DirectoryRepository, org: Organisation) -> User:
    user = User(
        user_id=new_id("usr"),
        org_id=org.org_id,
        email="ada@acme.example",
        name="Ada",
        role="admin",
        created_at=utc_now(),
    )
    directory.create_user(user)
    return user


@pytest.fixture
def session(lifecycle: KeyLifecycle, person: User) -> str:
    permissions = session_permissions(person, active_configuration().catalog)
    _, token = lifecycle.create_session(
        person_authority(person, active_configuration().catalog),
        person,
        permissions,
        expires_at=utc_now() + timedelta(hours=12),
    )
    return token.value


def console_event(cookie: str | None, console_header: str | None = "1", **shape: Any) -> dict[str, Any]:
    event = authorizer_event(None, **shape)
    if cookie is not None:
        event["headers"]["Cookie"] = cookie
    if console_header is not None:
        event["headers"]["X-Gatekey-Console"] = console_header
    event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
    return event


def test_the_session_cookie_with_the_console_header_is_one_read_and_names_the_person(
    authorizer: Any, session: str, person: User, aws_calls: list[str]
) -> None:
    invoke(authorizer, console_event(f"theme=dark; gatekey_session={session}", path="/v1/keys"))  # warms up
    aws_calls.clear()
    result = invoke(authorizer, console_event(f"theme=dark; gatekey_session={session}", path="/v1/keys"))
    assert allowed_resources(result) == ["arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/v1/keys"]
    assert isinstance(result, dict)
    assert (result["context"]["keyType"], result["context"]["userId"]) == ("session", person.user_id)
    assert aws_calls == ["dynamodb:GetItem"]


@pytest.mark.parametrize(
    ("cookie", "header"),
    [
        ("gatekey_session={session}", None),  # a form of another site cannot add the header
        ("gatekey_session={session}", "yes"),
        ("gatekey_session={session}; gatekey_session={session}", "1"),
        ("other={session}", "1"),
        (None, "1"),
    ],
)
def test_without_exactly_the_cookie_and_the_header_it_is_401(
    authorizer: Any, session: str, cookie: str | None, header: str | None
) -> None:
    event = console_event(cookie.format(session=session) if cookie else None, header, path="/v1/keys")
    assert invoke(authorizer, event) == "Unauthorized"


def test_a_repeated_cookie_header_is_401(authorizer: Any, session: str) -> None:
    event = console_event(f"gatekey_session={session}", path="/v1/keys")
    event["multiValueHeaders"]["Cookie"] = [f"gatekey_session={session}", "theme=dark"]
    assert invoke(authorizer, event) == "Unauthorized"


def test_a_session_is_never_a_bearer_token_and_an_api_key_never_a_session(
    authorizer: Any, session: str, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    assert invoke(authorizer, authorizer_event(session, path="/v1/keys")) == "Unauthorized"
    _, token = lifecycle.create(admin, NewKey(label="an API key", permissions={"keys": Level.READ}))
    assert invoke(authorizer, console_event(f"gatekey_session={token.value}", path="/v1/keys")) == "Unauthorized"


def test_credentials_in_the_authorization_header_win_over_the_cookie(
    authorizer: Any, session: str, lifecycle: KeyLifecycle, admin: Caller
) -> None:
    key, token = lifecycle.create(admin, NewKey(label="reader", permissions={"products": Level.READ}))
    event = console_event(f"gatekey_session={session}", path="/v1/keys")
    event["headers"]["Authorization"] = f"Bearer {token.value}"
    result = invoke(authorizer, event)
    assert allowed_resources(result) == []  # the key's own permissions: no keys:read
    assert isinstance(result, dict) and result["context"]["keyId"] == key.key_id


@pytest.mark.parametrize(("method", "path"), [("GET", "/products"), ("POST", "/orders"), ("GET", "/v1/products")])
def test_a_session_never_calls_the_protected_api(authorizer: Any, session: str, method: str, path: str) -> None:
    """It holds the provider's permissions only to grant them to keys."""
    result = invoke(authorizer, console_event(f"gatekey_session={session}", method=method, path=path))
    assert allowed_resources(result) == []


def test_a_signed_out_session_is_401(authorizer: Any, session: str, lifecycle: KeyLifecycle, person: User) -> None:
    key_id = parse_token(session, services.settings().token_prefix).key_id
    caller = Caller(key_id=key_id, org_id=person.org_id, user_id=person.user_id, key_type="session", permissions={})
    lifecycle.end_session(caller)
    assert invoke(authorizer, console_event(f"gatekey_session={session}", path="/v1/keys")) == "Unauthorized"


def test_a_lapsed_session_is_401(authorizer: Any, lifecycle: KeyLifecycle, person: User) -> None:
    permissions = session_permissions(person, active_configuration().catalog)
    _, token = lifecycle.create_session(
        person_authority(person, active_configuration().catalog),
        person,
        permissions,
        expires_at=utc_now() - timedelta(seconds=1),
    )
    assert invoke(authorizer, console_event(f"gatekey_session={token.value}", path="/v1/keys")) == "Unauthorized"
