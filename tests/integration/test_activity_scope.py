"""A member reads request logs and events only of keys they may see (DESIGN §5), against moto's server: full
pages, an exact next cursor, and the key routes' 404 for another's key_id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gatekey.api import services
from gatekey.domain.api_keys import ApiKey
from gatekey.domain.clock import utc_now
from gatekey.domain.directory import Organisation, User
from gatekey.domain.errors import NotFoundError
from gatekey.domain.ids import new_id
from gatekey.domain.key_lifecycle import Caller, KeyLifecycle, NewKey
from gatekey.domain.permissions import Level
from gatekey.domain.request_logs import LogEntry, LogFilter
from gatekey.storage.directory_repository import DirectoryRepository
from gatekey.storage.request_logs_repository import RequestLogsRepository
from gatekey.storage.tables import REQUEST_LOGS_TABLE

READER = {"logs": Level.READ, "events": Level.READ, "keys": Level.WRITE}


def add_user(directory: DirectoryRepository, org: Organisation, role: str = "member") -> User:
    user = User(new_id("usr"), org.org_id, f"{new_id('m')}@acme.example", "Someone", role, utc_now())  # type: ignore[arg-type]
    directory.create_user(user)
    return user


def personal_key(lifecycle: KeyLifecycle, admin: Caller, user: User) -> ApiKey:
    key, _ = lifecycle.create(
        admin, NewKey(label="personal", type="personal", user_id=user.user_id, permissions=READER)
    )
    return key


def as_caller(key: ApiKey) -> Caller:
    return Caller(key.key_id, key.org_id, key.user_id, key.type, dict(key.permissions))


def log_requests(org_id: str, key_ids: list[str], start: datetime) -> None:
    """One request a second, made by the keys in turn."""
    entries = [
        LogEntry(
            org_id, new_id("req"), key_id, "GET", "/products", 200, 3, "198.51.100.1", "t", start + timedelta(seconds=i)
        )
        for i, key_id in enumerate(key_ids)
    ]
    RequestLogsRepository(REQUEST_LOGS_TABLE.name()).write(entries, timedelta(days=30))


def read_logs(caller: Caller, limit: int, **filters: object) -> list[list[LogEntry]]:
    """Every page a caller reads, following the cursor (as it goes through the API: scope, then reader)."""
    pages, after = [], None
    while True:
        log_filter = services.activity_scope().log_filter(caller, LogFilter(**filters))  # type: ignore[arg-type]
        entries, after = services.request_log_reader().list(caller.org_id, log_filter, limit, after)
        pages.append(entries)
        if after is None:
            return pages


@pytest.fixture
def people(
    lifecycle: KeyLifecycle, directory: DirectoryRepository, admin: Caller, org: Organisation
) -> dict[str, ApiKey]:
    mia, carl = add_user(directory, org), add_user(directory, org)
    return {
        "mine": personal_key(lifecycle, admin, mia),
        "my_spare": personal_key(lifecycle, admin, mia),
        "colleagues": personal_key(lifecycle, admin, carl),
        "main": lifecycle.create(admin, NewKey(label="integration", permissions=READER))[0],
    }


def test_a_member_reads_only_their_own_keys_requests_in_full_pages(people: dict[str, ApiKey], admin: Caller) -> None:
    mine, spare, theirs, main = (people[name].key_id for name in ("mine", "my_spare", "colleagues", "main"))
    # Mostly others' traffic, the member's own scattered through it.
    order = [theirs, main, mine, main, main, theirs, spare, main, theirs, mine, main, main, spare, theirs, mine]
    log_requests(admin.org_id, order, datetime.now(UTC) - timedelta(minutes=5))
    own = [key_id for key_id in reversed(order) if key_id in (mine, spare)]
    pages = read_logs(as_caller(people["mine"]), limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]  # full pages; a cursor only while more follow
    assert [entry.key_id for page in pages for entry in page] == own  # newest first, no gap, no repeat
    everything = read_logs(admin, limit=50)
    assert len(everything[0]) == len(order)  # an admin reads the whole org's log, as before


def test_a_page_exactly_as_long_as_what_is_left_has_no_cursor(people: dict[str, ApiKey], admin: Caller) -> None:
    log_requests(
        admin.org_id, [people["mine"].key_id, people["main"].key_id] * 2, datetime.now(UTC) - timedelta(minutes=5)
    )
    pages = read_logs(as_caller(people["mine"]), limit=2)
    assert [len(page) for page in pages] == [2]


def test_a_members_filters_still_apply(people: dict[str, ApiKey], admin: Caller) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    log_requests(admin.org_id, [people["mine"].key_id] * 3 + [people["colleagues"].key_id] * 3, start)
    pages = read_logs(as_caller(people["mine"]), limit=50, since=start + timedelta(seconds=1))
    assert len(pages[0]) == 2


@pytest.mark.parametrize("other", ["colleagues", "main"])
def test_a_member_naming_a_key_they_may_not_see_gets_the_key_routes_404(people: dict[str, ApiKey], other: str) -> None:
    member = as_caller(people["mine"])
    with pytest.raises(NotFoundError) as from_logs:
        services.activity_scope().log_filter(member, LogFilter(key_id=people[other].key_id))
    with pytest.raises(NotFoundError) as from_keys:
        services.key_lifecycle().get(member, people[other].key_id)
    assert str(from_logs.value) == str(from_keys.value)


def test_a_member_reads_their_own_keys_requests_by_key_id(people: dict[str, ApiKey], admin: Caller) -> None:
    log_requests(admin.org_id, [people["my_spare"].key_id, people["colleagues"].key_id], datetime.now(UTC))
    pages = read_logs(as_caller(people["mine"]), limit=50, key_id=people["my_spare"].key_id)
    assert [entry.key_id for entry in pages[0]] == [people["my_spare"].key_id]


def test_admins_and_integration_keys_read_any_keys_requests(people: dict[str, ApiKey], admin: Caller) -> None:
    log_requests(admin.org_id, [people["colleagues"].key_id], datetime.now(UTC))
    for reader in (admin, as_caller(people["main"])):
        pages = read_logs(reader, limit=50, key_id=people["colleagues"].key_id)
        assert len(pages[0]) == 1


def read_events(caller: Caller, limit: int) -> list[list[dict[str, object]]]:
    pages, after = [], None
    while True:
        events, after = services.visible_event_history().list(caller, None, limit, after)
        pages.append([{**event.data, "event": event.type} for event in events])
        if after is None:
            return pages


def test_a_member_sees_no_key_event_of_a_key_they_may_not_see(
    people: dict[str, ApiKey], lifecycle: KeyLifecycle, admin: Caller
) -> None:
    lifecycle.revoke(admin, people["colleagues"].key_id)
    lifecycle.update(admin, people["main"].key_id, _label("renamed"))
    lifecycle.revoke(admin, people["my_spare"].key_id)
    pages = read_events(as_caller(people["mine"]), limit=2)
    seen = [event for page in pages for event in page]
    key_events = [(event["event"], event["id"]) for event in seen if str(event["event"]).startswith("key.")]
    assert key_events == [
        ("key.revoked", people["my_spare"].key_id),
        ("key.created", people["my_spare"].key_id),
        ("key.created", people["mine"].key_id),
    ]
    assert all(len(page) == 2 for page in pages[:-1]) and pages[-1]  # full pages, no empty last one
    every = [event for page in read_events(admin, limit=50) for event in page]
    assert {event["id"] for event in every} >= {key.key_id for key in people.values()}


def _label(label: str) -> object:
    from gatekey.domain.key_lifecycle import KeyChanges

    return KeyChanges(label=label)
