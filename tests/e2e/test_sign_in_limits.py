"""Console sign-in's limits over HTTP through `gatekey serve` (DESIGN §12): parallel wrong passwords check at most
five, the rest wait with 429; an org that does not exist is refused exactly like a wrong password.

`gatekey serve` may run one invocation of a function at a time: the proof with real parallelism across containers
is tests/integration/test_sign_in_throttle.py; this one shows the same answers at the HTTP edge.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from gatekey.domain.ids import new_id
from tests.e2e.server import RunningGatekey, ok

ADMIN_EMAIL = "admin@demo-store.example"
PASSWORD = "correct horse battery staple"
WRONG = "not the password at all"


def sign_in(gatekey: RunningGatekey, org_id: str, email: str, password: str) -> httpx.Response:
    with gatekey.client() as client:
        return client.post("/v1/sessions", json={"org_id": org_id, "email": email, "password": password})


@pytest.fixture(scope="module")
def org_id(gatekey: RunningGatekey) -> str:
    with gatekey.admin() as admin:
        return str(ok(admin.get("/v1/me"))["org"]["id"])


def person_with_password(gatekey: RunningGatekey, email: str) -> str:
    """A member who accepted an invitation and set PASSWORD; their email."""
    with gatekey.admin_person() as admin:
        user = ok(admin.post("/v1/users", json={"email": email, "name": "Grace", "role": "member"}), 201)
        invitation = ok(admin.post(f"/v1/users/{user['id']}/invitation"), 201)
    token = urlsplit(invitation["invitation_url"]).fragment.removeprefix("token=")
    with gatekey.client() as client:
        ok(client.post("/v1/invitations/accept", json={"token": token, "password": PASSWORD}))
    return email


def test_parallel_wrong_passwords_get_at_most_five_401_and_then_429(gatekey: RunningGatekey, org_id: str) -> None:
    email = person_with_password(gatekey, "grace@demo-store.example")
    attempts = 10
    start = threading.Barrier(attempts)

    def attempt(_: int) -> httpx.Response:
        with gatekey.client() as client:  # a connection of its own, as separate browsers have
            start.wait()
            return client.post("/v1/sessions", json={"org_id": org_id, "email": email, "password": WRONG})

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        answers = list(pool.map(attempt, range(attempts)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * 5 + [429] * (attempts - 5)
    for slowed in (answer for answer in answers if answer.status_code == 429):
        assert slowed.json()["error"]["code"] == "too_many_attempts"
        assert 0 < int(slowed.headers["retry-after"]) <= 900
    assert sign_in(gatekey, org_id, email, PASSWORD).status_code == 429


def test_an_org_that_does_not_exist_is_refused_exactly_like_a_wrong_password(
    gatekey: RunningGatekey, org_id: str
) -> None:
    wrong_password = sign_in(gatekey, org_id, ADMIN_EMAIL, WRONG)
    nowhere = new_id("org")
    for _ in range(7):  # never slowed either: nothing is counted for an org that does not exist
        no_org = sign_in(gatekey, nowhere, ADMIN_EMAIL, gatekey.admin_password)
        assert no_org.status_code == 401
        assert no_org.json() == wrong_password.json()
        assert "set-cookie" not in no_org.headers
    assert wrong_password.json()["error"]["code"] == "invalid_credentials"
    assert sign_in(gatekey, org_id, ADMIN_EMAIL, gatekey.admin_password).status_code == 201
