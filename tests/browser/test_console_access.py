"""The console in a real browser: signing in and out, keys made and revoked in the page, invited members, and
requests from another site."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_EMAIL, Console, console_client, find_chromium, session_cookie, sign_in
from tests.e2e.server import free_port

OpenPage = Callable[..., Page]


def create_key_in_page(page: Page, label: str, permissions: dict[str, str]) -> str:
    """Fills "Create key" as a person does; returns the secret the page shows once."""
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    expect(dialog.get_by_label("Label", exact=True)).to_be_focused()
    dialog.get_by_label("Label", exact=True).fill(label)
    for resource, level in permissions.items():
        dialog.get_by_label(resource, exact=True).select_option(level)
    dialog.get_by_role("button", name="Create the key").click()
    shown = page.get_by_role("dialog", name="Key created")
    secret = shown.get_by_label("The key").inner_text().strip()
    assert re.fullmatch(r"gk_test_[0-9A-Za-z]{60}", secret), secret
    return secret


def test_admin_creates_a_key_that_works_then_revokes_it_and_it_stops_at_once(
    console: Console, open_page: OpenPage
) -> None:
    page = open_page()
    sign_in(page, console)

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    secret = create_key_in_page(page, "catalog reader", {"products": "read"})
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("dialog", name="Key created").get_by_role("status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert not secret_kept_in_browser(page, secret)
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text(secret)).to_have_count(0)  # shown once: gone from the page once closed

    store = httpx.Client(base_url=console.gatekey.url, headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert store.get("/products").status_code == 200
    assert store.post("/products", json={"name": "lamp"}).status_code == 403  # read only, as granted in the page

    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="catalog reader"))
    expect(row).to_contain_text("active")
    row.get_by_role("link", name="catalog reader").click()
    page.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog", name="Revoke this key?").get_by_role("button", name="Yes, revoke it").click()
    expect(page.get_by_role("status")).to_contain_text("The key is revoked")
    expect(page.get_by_role("button", name="Revoke")).to_be_hidden()

    assert store.get("/products").status_code == 401
    store.close()
    [revoked] = [key for key in console.keys_via_api() if key["label"] == "catalog reader"]
    assert revoked["status"] == "revoked"


def test_revoking_asks_first_and_cancelling_changes_nothing(console: Console, open_page: OpenPage) -> None:
    key = console.gatekey.create_key(label="kept key", permissions={"products": "read"})
    page = open_page()
    sign_in(page, console)
    page.goto(console.page_url(f"key.html?id={key['id']}"))
    page.get_by_role("button", name="Revoke").click()
    confirm = page.get_by_role("dialog", name="Revoke this key?")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(confirm).to_have_count(0)
    expect(page.get_by_role("button", name="Revoke")).to_be_focused()
    with console.gatekey.client(key["secret"]) as store:
        assert store.get("/products").status_code == 200


def test_a_wrong_password_is_refused_exactly_like_an_unknown_email(console: Console, open_page: OpenPage) -> None:
    page = open_page()
    page.goto(console.page_url(f"signin.html?org={console.org_id}"))
    expect(page.get_by_label("Organisation")).to_have_value(console.org_id)

    refusals = []
    for email, password in ((ADMIN_EMAIL, "not the password at all"), ("nobody@demo-store.example", "whatever it is")):
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        with page.expect_response(re.compile(r"/v1/sessions$")) as answer:
            page.get_by_role("button", name="Sign in").click()
        body = answer.value.json()
        shown = page.get_by_role("alert")
        expect(shown).to_be_visible()
        refusals.append((answer.value.status, body["error"]["code"], body["error"]["message"], shown.inner_text()))
        expect(page.get_by_label("Password", exact=True)).to_have_value("")
        expect(page.get_by_label("Password", exact=True)).to_be_focused()

    assert refusals[0] == refusals[1]
    assert refusals[0][:2] == (401, "invalid_credentials")
    assert "API keys" not in page.title()


def test_repeated_failed_sign_ins_are_slowed_and_the_page_says_how_long_to_wait(
    console: Console, open_page: OpenPage
) -> None:
    page = open_page()
    page.goto(console.page_url(f"signin.html?org={console.org_id}"))
    statuses = []
    for _ in range(6):
        page.get_by_label("Email", exact=True).fill("hasty@demo-store.example")
        page.get_by_label("Password", exact=True).fill("guess after guess")
        with page.expect_response(re.compile(r"/v1/sessions$")) as answer:
            page.get_by_role("button", name="Sign in").click()
        statuses.append(answer.value.status)
    assert statuses == [401] * 5 + [429]
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^Too many attempts\. Try again in \d+ minutes\.$"))


def test_an_invited_member_sets_a_password_and_sees_only_their_own_keys(console: Console, open_page: OpenPage) -> None:
    admin = open_page()
    sign_in(admin, console)
    admin.get_by_role("link", name="Users").click()
    admin.get_by_role("button", name="Invite").click()
    invite = admin.get_by_role("dialog", name="Invite a user")
    expect(invite.get_by_label("Email")).to_be_focused()
    invite.get_by_label("Email").fill("mia@demo-store.example")
    invite.get_by_label("Name").fill("Mia Member")
    invite.get_by_role("button", name="Create invitation").click()
    link = admin.get_by_role("dialog", name="Mia Member is invited").get_by_label("The link").inner_text().strip()
    assert "/dashboard/invitation.html#token=" in link
    admin.get_by_role("button", name="Done").click()
    expect(admin.get_by_role("row").filter(has_text="mia@demo-store.example")).to_contain_text("member")

    member = open_page()
    member.goto(link)
    expect(member).not_to_have_url(re.compile("token="))  # the one-use token leaves the address bar at once
    password = "a long and unguessable phrase"
    member.get_by_label("Password", exact=True).fill(password)
    member.get_by_label("Confirmation").fill(password + " typo")
    member.get_by_role("button", name="Set password").click()
    expect(member.get_by_role("alert")).to_contain_text("not the same")
    member.get_by_label("Confirmation").fill(password)
    member.get_by_role("button", name="Set password").click()

    expect(member.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(member.get_by_label("Organisation")).to_have_value(console.org_id)
    expect(member.get_by_role("status")).to_contain_text("Your password is set")
    member.get_by_label("Email", exact=True).fill("mia@demo-store.example")
    member.get_by_label("Password", exact=True).fill(password)
    member.get_by_role("button", name="Sign in").click()
    expect(member.get_by_role("heading", name="API keys")).to_be_visible()
    expect(member.get_by_text("No keys yet")).to_be_visible()

    create_key_in_page(member, "mia's script", {"products": "read"})
    member.get_by_role("button", name="Done").click()
    listed = member.get_by_role("table").get_by_role("link")
    expect(listed).to_have_text(["mia's script"])  # not the admin's keys, nor the org's main keys
    assert any(key["label"] == "Demo Store admin key" for key in console.keys_via_api())
    expect(member.get_by_label("Type")).to_be_hidden()  # main keys are for admins

    member.get_by_role("link", name="Users").click()
    expect(member.get_by_role("heading", name="Users")).to_be_visible()
    expect(member.get_by_role("button", name="Invite")).to_have_count(0)
    expect(member.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)

    # The same link works once.
    again = open_page()
    again.goto(link)
    again.get_by_label("Password", exact=True).fill(password)
    again.get_by_label("Confirmation").fill(password)
    again.get_by_role("button", name="Set password").click()
    expect(again.get_by_role("alert")).to_contain_text("not valid any more")


def test_removing_a_user_says_how_many_active_keys_go_with_them(console: Console, open_page: OpenPage) -> None:
    with console.gatekey.admin() as admin:
        user = admin.post("/v1/users", json={"email": "leo@demo-store.example", "name": "Leo Leaving"}).json()
        for label in ("leo one", "leo two"):
            body = {"label": label, "type": "personal", "user_id": user["id"], "permissions": {"products": "read"}}
            assert admin.post("/v1/keys", json=body).status_code == 201
    page = open_page()
    sign_in(page, console)
    page.goto(console.page_url("users.html"))
    page.get_by_role("button", name="Remove leo@demo-store.example").click()
    confirm = page.get_by_role("dialog", name="Remove Leo Leaving?")
    expect(confirm).to_contain_text("Their 2 active keys are revoked and deleted with them.")
    confirm.get_by_role("button", name="Yes, remove").click()
    expect(page.get_by_role("status")).to_contain_text("Leo Leaving (leo@demo-store.example) was removed, with 2")
    expect(page.get_by_role("row").filter(has_text="leo@demo-store.example")).to_have_count(0)
    assert not [key for key in console.keys_via_api(status="active") if key["label"].startswith("leo ")]


def test_the_console_link_serve_prints_leads_to_sign_in_with_its_org_then_back(
    console: Console, open_page: OpenPage
) -> None:
    page = open_page()
    page.goto(f"{console.url}?org={console.org_id}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Organisation")).to_have_value(console.org_id)
    expect(page.get_by_label("Email", exact=True)).to_be_focused()
    page.get_by_label("Email", exact=True).fill(ADMIN_EMAIL)
    page.get_by_label("Password", exact=True).fill(console.admin_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.get_by_role("navigation", name="Console")).to_contain_text("Request logs")


def test_sign_out_ends_the_session_on_the_server_at_once(console: Console, open_page: OpenPage) -> None:
    page = open_page()
    sign_in(page, console)
    cookie = session_cookie(page)
    with console_client(console, cookie) as replay:
        assert replay.get("/v1/keys").status_code == 200  # the cookie replayed outside the browser works...

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("You are signed out")
        expect(page.get_by_label("Organisation")).to_have_value(console.org_id)

        assert replay.get("/v1/keys").status_code == 401  # ...and no longer once signed out
        assert replay.post("/v1/keys", json={"label": "after sign-out"}).status_code == 401

    page.goto(console.page_url("index.html"))  # a signed-out page goes to the sign-in page, and back after it
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email", exact=True).fill(ADMIN_EMAIL)
    page.get_by_label("Password", exact=True).fill(console.admin_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()


def test_the_session_cookie_without_the_console_header_is_refused(console: Console, open_page: OpenPage) -> None:
    page = open_page()
    sign_in(page, console)
    cookie = session_cookie(page)
    with httpx.Client(base_url=console.gatekey.url, headers={"Cookie": f"gatekey_session={cookie}"}) as bare:
        assert bare.get("/v1/keys").status_code == 401
        assert bare.post("/v1/keys", json={"label": "no header"}).status_code == 401
    assert not [key for key in console.keys_via_api() if key["label"] == "no header"]


ATTACK_PAGE = """<!doctype html>
<html><head><title>pending</title></head><body>
<form id="attack" method="POST" action="{target}/v1/keys" enctype="text/plain" target="sink">
  <input type="hidden" name='{{"label": "forged by form", "permissions": {{"keys": "write"}}, "x": "' value='"}}'>
</form>
<iframe name="sink" title="sink"></iframe>
<script>
  const outcomes = [];
  const attempt = (name, init) => fetch("{target}/v1/keys", {{ method: "POST", credentials: "include", ...init }})
    .then((answer) => outcomes.push(name + ":" + answer.type + ":" + answer.status))
    .catch((error) => outcomes.push(name + ":refused"));
  document.getElementById("attack").submit();
  Promise.all([
    attempt("simple", {{ mode: "no-cors", headers: {{ "Content-Type": "text/plain" }},
      body: JSON.stringify({{ label: "forged by fetch" }}) }}),
    attempt("console", {{ headers: {{ "Content-Type": "application/json", "X-Gatekey-Console": "1" }},
      body: JSON.stringify({{ label: "forged with the header" }}) }}),
  ]).then(() => {{ document.title = "done " + outcomes.sort().join(" "); }});
</script>
</body></html>
"""


@contextmanager
def another_site(page_html: str) -> Iterator[str]:
    """A page served from http://localhost:<port>: another site than the console's 127.0.0.1."""
    body = page_html.encode()

    class AttackerPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *arguments: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), AttackerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}/attack.html"
    finally:
        server.shutdown()
        server.server_close()


def test_a_request_from_another_site_with_the_cookie_changes_nothing(console: Console, open_page: OpenPage) -> None:
    page = open_page()
    sign_in(page, console)  # the browser holds a live session cookie for 127.0.0.1
    before = {key["id"] for key in console.keys_via_api()}

    with another_site(ATTACK_PAGE.format(target=console.gatekey.url)) as attacker_url:
        attacker = page.context.new_page()
        attacker.goto(attacker_url)
        expect(attacker).to_have_title(re.compile("^done"))
        attacker.wait_for_timeout(500)  # the form's POST lands in its frame

    outcomes = attacker.title()
    assert "console:refused" in outcomes  # the browser never sent it: no CORS for another origin
    assert not {key["id"] for key in console.keys_via_api()} - before
    page.reload()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()  # the real session is untouched
    attacker.close()


def secret_kept_in_browser(page: Page, secret: str) -> bool:
    """Whether `secret` is in any storage the page's origin has: local and session storage, IndexedDB, cookies."""
    stored = page.evaluate(
        """async () => {
            const databases = indexedDB.databases ? await indexedDB.databases() : [];
            return JSON.stringify([{ ...localStorage }, { ...sessionStorage }, databases, document.cookie]);
        }"""
    )
    cookies = [cookie["value"] for cookie in page.context.cookies()]
    return secret in stored or secret in "".join(cookies)


def test_a_missing_chromium_fails_saying_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium"):
        find_chromium(tmp_path / "no-chromium-here")
