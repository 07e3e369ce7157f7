"""Authority never grows (DESIGN §5), proved by an adversarial model: Hypothesis drives random sequences of management
operations (create, edit, rotate, reveal, revoke, invite, accept, sign in, partner mint, webhook subscribe, reading
events and logs) by randomly chosen callers of every standing, over HTTP through a real `gatekey serve`, and after
every step checks the invariant against a model written here independently of the server's code:

- no caller ever obtains a secret (an API key's token, a console session, an invitation link) whose authority exceeds
  its own, in a response, an event, a webhook delivery or a request log;
- no caller sees an object of another tenant.

The budget is fixed (EXAMPLES times STEPS steps). On failure Hypothesis prints the shortest sequence it found and the
seed; `GATEKEY_MODEL_SEED=<seed> pytest tests/e2e/test_authority_model.py` replays it.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import hypothesis.core
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.e2e.server import RunningGatekey, ok, start_gatekey
from tests.webhook_receiver import Receiver, running_receiver

EXAMPLES = 15
STEPS = 20  # 300 steps in all
SEED_ENV_VAR = "GATEKEY_MODEL_SEED"
LEVELS = {"read": 1, "write": 2}
GATEKEY_OWN = frozenset({"keys", "logs", "users", "connections", "events", "webhooks"})
RANK = {"member": 1, "integration": 2, "admin": 3}
SESSION_COOKIE = "gatekey_session"
ID = re.compile(r"(?:key|usr|org)_[A-Za-z0-9]{22}")
PASSWORD = "a model person's password"


@dataclass(frozen=True)
class Authority:
    """What a credential may do, as this model (not the server) reckons it."""

    org: str
    standing: str  # admin | integration | member | partner
    permissions: dict[str, int]

    def covers(self, other: Authority) -> bool:
        if self.org != other.org:
            return False
        if "partner" in (self.standing, other.standing):
            standing_ok = self.standing == other.standing
        else:
            standing_ok = RANK[self.standing] >= RANK[other.standing]
        return standing_ok and all(self.permissions.get(r, 0) >= level for r, level in other.permissions.items())


@dataclass
class Credential:
    """A secret the model has seen handed out, and whose it is: a key (by id) or a person (by user id)."""

    secret: str
    key_id: str | None = None
    user_id: str | None = None  # for a session or an invitation: the person it lets in
    kind: str = "key"  # key | session | invitation


@dataclass
class World:
    gatekey: RunningGatekey
    receiver: Receiver
    catalog: dict[str, int]  # grantable resource → highest level
    partner_org: str
    partner_key_id: str
    partner_token: list[str]  # the partner key's current token (it may rotate itself)
    subscriptions: dict[str, Authority] = field(default_factory=dict)  # ?sub= → the subscriber's authority
    delivered: int = 0  # receiver requests already checked


class AuthorityModel(RuleBasedStateMachine):
    world: World

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, dict[str, Any]] = {}  # key id → {org, type, user_id, permissions}
        self.users: dict[str, tuple[str, str]] = {}  # user id → (org, role)
        self.secrets: dict[str, Credential] = {}
        self.callers: dict[str, Credential] = {}  # name → a credential the model may act with
        self.orgs: tuple[str, str] = ("", "")
        self.customer_orgs: set[str] = set()
        self.ids_of: dict[str, set[str]] = {}  # org → ids of its objects (users, keys), for the tenant check
        self.links: dict[str, str] = {}  # user id → invitation token
        self.emails: dict[str, str] = {}  # user id → email
        self.subscribed_orgs: set[str] = set()  # orgs with a webhook of the model's
        # Ids a tenant's callers named themselves (another tenant's, trying): its request log shows them back.
        self.named: set[str] = set()
        self.founding_callers = 0
        self.org_in_play = ""  # the org of the caller picked last

    # The model's own reckoning of authority (DESIGN §5).

    def person_permissions(self, role: str) -> dict[str, int]:
        if role == "admin":
            return dict(self.world.catalog)
        provider = {r: level for r, level in self.world.catalog.items() if r not in GATEKEY_OWN}
        return {**provider, "keys": 2, "users": 1, "logs": 1, "events": 1}

    def authority(self, credential: Credential) -> Authority:
        if credential.kind in ("session", "invitation"):
            org, role = self.users[credential.user_id or ""]
            return Authority(org, role, self.person_permissions(role))
        facts = self.keys[credential.key_id or ""]
        if facts["type"] == "partner":
            return Authority(facts["org"], "partner", facts["permissions"])
        if facts["type"] == "main":
            standing = "admin" if facts["permissions"].get("keys", 0) >= 2 else "integration"
        else:
            standing = self.users[facts["user_id"]][1]
        return Authority(facts["org"], standing, facts["permissions"])

    def holder_authorities(self, credential: Credential) -> list[Authority]:
        """What a caller holds: a partner holds its own org as a partner and its customer orgs as their admin."""
        own = self.authority(credential)
        if own.standing != "partner":
            return [own]
        return [own, *(Authority(org, "admin", dict(self.world.catalog)) for org in self.customer_orgs)]

    # Setting the scene: two customer orgs of the partner, with people and keys of every standing.

    @initialize()
    def two_tenants(self) -> None:
        partner = self.remember_partner()
        self.orgs = (self.found_org(partner, "a"), self.found_org(partner, "b"))
        self.founding_callers = len(self.callers)

    def remember_partner(self) -> Credential:
        world = self.world
        self.keys[world.partner_key_id] = {
            "org": world.partner_org,
            "type": "partner",
            "user_id": None,
            "permissions": {"orgs": 2},
        }
        partner = Credential(world.partner_token[0], key_id=world.partner_key_id)
        self.secrets[partner.secret] = partner
        self.callers["partner"] = partner
        return partner

    def found_org(self, partner: Credential, name: str) -> str:
        org = self.call(partner, "POST", "/v1/orgs", json={"name": f"model {name}"}, expect=201)["id"]
        self.customer_orgs.add(org)
        self.ids_of[org] = {org}
        people = {}
        for role in ("admin", "member"):
            email = f"{role}-{secrets.token_hex(4)}@model.example"
            body = {"email": email, "name": role, "role": role}
            people[role] = self.call(partner, "POST", f"/v1/orgs/{org}/users", json=body, expect=201)["id"]
        everything = {r: ("write" if level == 2 else "read") for r, level in self.world.catalog.items()}
        admin = self.mint(partner, org, people["admin"], everything, f"{name}-admin-personal")
        self.mint(partner, org, people["member"], {"keys": "write", "products": "read"}, f"{name}-member-personal")
        # The admin's personal key makes main keys: a key manager, a people manager, a webhook manager.
        for label, permissions in (
            ("keys", {"keys": "write"}),
            ("people", {"keys": "write", "users": "write"}),
            ("hooks", {"webhooks": "write"}),
        ):
            body = {"label": label, "type": "main", "permissions": permissions, "recoverable": True}
            created = self.call(admin, "POST", "/v1/keys", json=body, expect=201)
            self.callers[f"{name}-main-{label}"] = self.secrets[created["secret"]]
        # The webhook manager listens to everything from the start: whatever the org's events carry, it gets.
        self.subscribe(self.callers[f"{name}-main-hooks"], ["*"])
        # The admin gets into the console: invited by their own personal key, then signed in.
        self.call(admin, "POST", f"/v1/users/{people['admin']}/invitation", expect=201)
        self.await_deliveries(people["admin"])
        self.sign_in_with_link(people["admin"])
        return org

    def mint(self, partner: Credential, org: str, user_id: str, permissions: dict[str, str], name: str) -> Credential:
        path = f"/v1/orgs/{org}/users/{user_id}/keys"
        body = {"label": name, "permissions": permissions, "recoverable": True}
        created = self.call(partner, "POST", path, json=body, expect=201)
        self.callers[name] = self.secrets[created["secret"]]
        return self.callers[name]

    # One HTTP call, and the invariant on what it answered.

    def client(self, credential: Credential) -> httpx.Client:
        if credential.kind == "session":
            return self.world.gatekey.client(
                **{"X-Gatekey-Console": "1", "Cookie": f"{SESSION_COOKIE}={credential.secret}"}
            )
        return self.world.gatekey.client(credential.secret)

    def call(
        self, caller: Credential, method: str, path: str, *, expect: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        with self.client(caller) as client:
            response = client.request(method, path, **kwargs)
        assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text}"
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.text}"
        body = response.json() if response.content else {}
        self.learn(body, caller)
        holders = self.holder_authorities(caller)
        # What a caller named itself may be said back to it: a 404 names the id, the request log the path.
        self.named.update(
            f"{org} {identifier}" for org in {h.org for h in holders} for identifier in ID.findall(f"{path} {kwargs}")
        )
        self.check_obtained(response.text, holders, f"{method} {path}")
        return body if isinstance(body, dict) else {}

    def learn(self, body: Any, caller: Credential) -> None:
        """Facts the answer states: keys and users (with their orgs), and the secrets it hands out."""
        for item in _objects(body):
            identifier = str(item.get("id", ""))
            org = item.get("org_id")
            if identifier.startswith("key_") and org and "permissions" in item:
                permissions = {r: LEVELS[level] for r, level in item["permissions"].items()}
                self.keys[identifier] = {
                    "org": org,
                    "type": item["type"],
                    "user_id": item.get("user_id"),
                    "permissions": permissions,
                }
                self.ids_of.setdefault(org, set()).add(identifier)
                if isinstance(item.get("secret"), str):
                    credential = Credential(item["secret"], key_id=identifier)
                    self.secrets[credential.secret] = credential
                    self.callers[f"key-{identifier}-{len(self.callers)}"] = credential
                    if identifier == self.world.partner_key_id:
                        self.world.partner_token[0] = credential.secret
            if identifier.startswith("usr_") and org and item.get("role"):
                self.users[identifier] = (org, item["role"])
                self.emails[identifier] = item["email"]
                self.ids_of.setdefault(org, set()).add(identifier)
        if isinstance(body, dict) and isinstance(body.get("invitation_url"), str):
            token = urlsplit(body["invitation_url"]).fragment.removeprefix("token=")
            _, user_id, link_secret = token.split(".")
            self.secrets[link_secret] = Credential(link_secret, user_id=user_id, kind="invitation")
            self.links[user_id] = token

    def check_obtained(self, text: str, holders: list[Authority], where: str) -> None:
        for secret, credential in self.secrets.items():
            if secret in text:
                handed_out = self.authority(credential)
                assert any(holder.covers(handed_out) for holder in holders), (
                    f"{where} handed a secret of {handed_out} to a caller holding {holders}"
                )
        visible = {holder.org for holder in holders}
        for org, ids in self.ids_of.items():
            if org in visible:
                continue
            leaked = [
                identifier
                for identifier in ids
                if identifier in text and not any(f"{holder.org} {identifier}" in self.named for holder in holders)
            ]
            assert not leaked, f"{where} showed {leaked} of another tenant ({org}) to {holders}"

    @invariant()
    def webhook_deliveries_obey_the_subscribers_authority(self) -> None:
        world = self.world
        requests = world.receiver.requests[world.delivered :]
        paths = world.receiver.paths[world.delivered :]
        world.delivered += len(requests)
        for (_, body), path in zip(requests, paths, strict=False):
            subscription = parse_qs(urlsplit(path).query).get("sub", [""])[0]
            subscriber = world.subscriptions.get(subscription)
            if subscriber is not None:
                self.check_obtained(body.decode(), [subscriber], f"webhook delivery {subscription}")

    # The operations, by random callers on random targets (either tenant's).

    def pick(self, data: st.DataObject) -> Credential:
        """Half the time one of the founding callers (every standing, both tenants), else anyone the walk made."""
        founding = list(self.callers)[: self.founding_callers] or list(self.callers)
        names = st.one_of(st.sampled_from(founding), st.sampled_from(list(self.callers)))
        caller = self.callers[data.draw(names, label="caller")]
        self.org_in_play = self.authority(caller).org
        return caller

    def target_key(self, data: st.DataObject) -> str:
        """Any known key, half the time one of the last caller's own org (where most refusals are decided)."""
        return self.target(
            data, list(self.keys), {k for k, facts in self.keys.items() if facts["org"] == self.org_in_play}
        )

    def target_user(self, data: st.DataObject) -> str:
        return self.target(data, list(self.users), {u for u, (org, _) in self.users.items() if org == self.org_in_play})

    def target(self, data: st.DataObject, every: list[str], own: set[str]) -> str:
        own_first = [item for item in every if item in own] or every
        return data.draw(st.one_of(st.sampled_from(own_first), st.sampled_from(every)), label="target")

    def permissions(self, data: st.DataObject) -> dict[str, str]:
        pairs = [
            (r, name) for r, level in self.world.catalog.items() for name, value in LEVELS.items() if value <= level
        ]
        return dict(data.draw(st.lists(st.sampled_from(pairs), max_size=4), label="permissions"))

    @rule(data=st.data(), key_type=st.sampled_from(["main", "personal"]), recoverable=st.booleans())
    def create_key(self, data: st.DataObject, key_type: str, recoverable: bool) -> None:
        caller = self.pick(data)
        body: dict[str, Any] = {
            "label": "model",
            "type": key_type,
            "permissions": self.permissions(data),
            "recoverable": recoverable,
        }
        if key_type == "personal" and data.draw(st.booleans(), label="for another user"):
            body["user_id"] = self.target_user(data)
        self.call(caller, "POST", "/v1/keys", json=body)

    @rule(data=st.data())
    def edit_permissions(self, data: st.DataObject) -> None:
        self.call(
            self.pick(data), "PATCH", f"/v1/keys/{self.target_key(data)}", json={"permissions": self.permissions(data)}
        )

    @rule(data=st.data())
    def rotate(self, data: st.DataObject) -> None:
        self.call(self.pick(data), "POST", f"/v1/keys/{self.target_key(data)}/rotate", json={})

    @rule(data=st.data())
    def reveal(self, data: st.DataObject) -> None:
        self.call(self.pick(data), "POST", f"/v1/keys/{self.target_key(data)}/reveal")

    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        caller = self.pick(data)
        key_id = self.target_key(data)
        if key_id == self.world.partner_key_id:
            return  # the partner key serves every example; revoking it is tested in test_authority.py
        self.call(caller, "DELETE", f"/v1/keys/{key_id}")

    @rule(data=st.data(), role=st.sampled_from(["admin", "member"]))
    def add_user(self, data: st.DataObject, role: str) -> None:
        body = {"email": f"{role}-{secrets.token_hex(4)}@model.example", "name": "someone", "role": role}
        self.call(self.pick(data), "POST", "/v1/users", json=body)

    @rule(data=st.data())
    def invite(self, data: st.DataObject) -> None:
        caller = self.pick(data)
        user_id = self.target_user(data)
        answer = self.call(caller, "POST", f"/v1/users/{user_id}/invitation")
        if "invitation_url" in answer:
            self.await_deliveries(user_id)

    @rule(data=st.data())
    def accept_and_sign_in(self, data: st.DataObject) -> None:
        if self.links:
            self.sign_in_with_link(data.draw(st.sampled_from(list(self.links)), label="invited user"))

    def sign_in_with_link(self, user_id: str) -> None:
        """Whoever holds the link sets a password with it and signs in: a console session joins the callers."""
        org = self.users[user_id][0]
        with self.world.gatekey.client() as anyone:
            body = {"token": self.links.pop(user_id), "password": PASSWORD}
            accepted = anyone.post("/v1/invitations/accept", json=body)
            assert accepted.status_code in (200, 401), accepted.text  # 401: a newer link replaced it
            if accepted.status_code != 200:
                return
            body = {"org_id": org, "email": self.emails[user_id], "password": PASSWORD}
            signed_in = anyone.post("/v1/sessions", json=body)
        assert signed_in.status_code == 201, signed_in.text
        found = re.search(rf"{SESSION_COOKIE}=([^;]+);", signed_in.headers["set-cookie"])
        assert found
        session = Credential(found.group(1), user_id=user_id, kind="session")
        self.secrets[session.secret] = session
        self.callers[f"session-{user_id}-{len(self.callers)}"] = session

    @rule(data=st.data())
    def partner_mint(self, data: st.DataObject) -> None:
        user_id = self.target_user(data)
        org = self.users[user_id][0]
        body = {"label": "minted", "permissions": self.permissions(data), "recoverable": True}
        self.call(self.callers["partner"], "POST", f"/v1/orgs/{org}/users/{user_id}/keys", json=body)

    @rule(data=st.data(), events=st.sampled_from([["user.invited"], ["*"], ["key.rotated", "key.revealed"]]))
    def subscribe_webhook(self, data: st.DataObject, events: list[str]) -> None:
        self.subscribe(self.pick(data), events)

    def subscribe(self, caller: Credential, events: list[str]) -> None:
        subscription = secrets.token_hex(4)
        url = f"{self.world.receiver.url}?sub={subscription}"
        answer = self.call(caller, "POST", "/v1/webhooks", json={"url": url, "events": events})
        if answer.get("id"):
            self.world.subscriptions[subscription] = self.authority(caller)
            self.subscribed_orgs.add(self.authority(caller).org)

    @rule(data=st.data())
    def read_events(self, data: st.DataObject) -> None:
        self.call(self.pick(data), "GET", "/v1/events", params={"limit": 200})

    @rule(data=st.data())
    def read_logs(self, data: st.DataObject) -> None:
        self.call(self.pick(data), "GET", "/v1/logs", params={"limit": 200})

    @rule(data=st.data())
    def read_a_key(self, data: st.DataObject) -> None:
        self.call(self.pick(data), "GET", f"/v1/keys/{self.target_key(data)}")

    def await_deliveries(self, user_id: str) -> None:
        """An invitation in an org with webhooks: wait until its user.invited was delivered (or 10 s), so the
        invariant sees what the webhooks got."""
        org = self.users[user_id][0]
        if org not in self.subscribed_orgs:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(user_id.encode() in body for _, body in self.world.receiver.requests[self.world.delivered :]):
                return
            time.sleep(0.05)


def _objects(body: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in an answer, nested ones included."""
    if isinstance(body, dict):
        yield body
        for value in body.values():
            yield from _objects(value)
    elif isinstance(body, list):
        for value in body:
            yield from _objects(value)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with start_gatekey(tmp_path_factory.mktemp("model")) as gatekey, running_receiver() as receiver:
        with gatekey.client(gatekey.partner_token) as partner:
            me = ok(partner.get("/v1/me"))
            catalog = {
                entry["resource"]: LEVELS[entry["max_level"]] for entry in ok(partner.get("/v1/permissions"))["data"]
            }
        yield World(gatekey, receiver, catalog, me["org"]["id"], me["key"]["id"], [gatekey.partner_token])


def test_no_caller_ever_obtains_more_authority_than_it_holds(world: World) -> None:
    AuthorityModel.world = world
    forced = os.environ.get(SEED_ENV_VAR)
    seed = int(forced) if forced else secrets.randbits(32)
    previous = hypothesis.core.global_force_seed
    hypothesis.core.global_force_seed = seed  # Hypothesis has no per-call seed for a state machine run
    try:
        run_state_machine_as_test(
            AuthorityModel,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                print_blob=True,
                suppress_health_check=list(HealthCheck),
            ),
            # Every example walks the whole STEPS (Hypothesis would otherwise try many short walks first, and the
            # budget of steps would not be spent where the seams are).
            _min_steps=STEPS,
        )
    except BaseException as failure:
        failure.add_note(f"replay this run: {SEED_ENV_VAR}={seed} .venv/bin/pytest {__file__}")
        raise
    finally:
        hypothesis.core.global_force_seed = previous
