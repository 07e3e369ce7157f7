"""Console sign-in's limits over HTTP through `gatekey serve` (DESIGN §12): parallel wrong passwords check at most
five, the rest wait with 429; an org that does not exist is refused exactly like a wrong password.

`gatekey serve` may run one invocation of a function at a time: the proof with real parallelism across containers
is tests/integration/test_sign_in_throttle.py; this one shows the same answers at the HTTP edge.
"""

from __future__ import annotations

import secrets
import statistics
import threading
import time
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


def test_the_time_of_a_refusal_does_not_tell_whether_the_email_or_the_org_exists(
    gatekey: RunningGatekey, org_id: str
) -> None:
    """Medians of 20 interleaved tries each, over HTTP: a known email with a wrong password, an unknown email, an org
    that does not exist. Each known person is tried at most five times (the limit), each unknown email once. On a
    machine too loaded to resolve 2 ms, the steadiest of three measurements must be within 2 ms plus twice its noise
    (a difference in work, 11-40 ms before sign-in read alike, shows whatever the load)."""
    known = [person_with_password(gatekey, f"timing-{n}@demo-store.example") for n in range(12)]
    tolerance = 2.0

    def timed(org: str, email: str) -> float:
        with gatekey.client() as client:
            started = time.perf_counter()
            answer = client.post("/v1/sessions", json={"org_id": org, "email": email, "password": WRONG})
            elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 401, answer.text
        return elapsed

    def measurement(people: list[str]) -> dict[str, tuple[float, float]]:
        differences: dict[str, list[float]] = {"unknown email": [], "unknown org": []}
        for round_number in range(20):
            baseline = timed(org_id, people[round_number // 5])
            ghost = f"ghost-{secrets.token_hex(6)}@demo-store.example"
            differences["unknown email"].append(timed(org_id, ghost) - baseline)
            differences["unknown org"].append(timed(new_id("org"), ghost) - baseline)
        return {
            name: (statistics.median(values), statistics.stdev(values) / len(values) ** 0.5)
            for name, values in differences.items()
        }

    measurements = [measurement(known[4 * n : 4 * n + 4]) for n in range(3)]
    if any(all(abs(median) < tolerance for median, _ in measured.values()) for measured in measurements):
        return
    steadiest = min(measurements, key=lambda measured: max(noise for _, noise in measured.values()))
    assert all(abs(median) < tolerance + 2 * noise for median, noise in steadiest.values()), measurements
