"""The console's pages in a real browser: a key's page, request logs, webhooks, events, the keyboard, and every
page at desktop and phone width (screenshots in build/screenshots)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, SCREENSHOTS, Console, save_screenshots, sign_in, unnamed_controls
from tests.webhook_receiver import Receiver

OpenPage = Callable[..., Page]


def test_the_logs_page_shows_the_requests_just_made_and_filters_them(console: Console, open_page: OpenPage) -> None:
    key = console.gatekey.create_key(label="logged reader", permissions={"products": "read"})
    with httpx.Client(base_url=console.gatekey.url, headers={"Authorization": f"Bearer {key['secret']}"}) as store:
        assert store.get("/products/p-17").status_code == 200
        assert store.post("/products", json={"name": "lamp"}).status_code == 403

    wait_for_logs(console, key["id"], 2)

    page = open_page()
    sign_in(page, console)
    page.get_by_role("link", name="Request logs").click()
    expect(page.get_by_role("heading", name="Request logs")).to_be_visible()
    page.get_by_label("Key").fill(key["id"])
    page.get_by_role("button", name="Apply filters").click()
    rows = page.get_by_role("table").get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("POST")  # newest first
    expect(rows.nth(0)).to_contain_text("/products")
    expect(rows.nth(0)).to_contain_text("403")
    expect(rows.nth(1)).to_contain_text("GET")
    expect(rows.nth(1)).to_contain_text("/products/p-17")
    expect(rows.nth(1)).to_contain_text("200")
    expect(rows.nth(1)).to_contain_text("127.0.0.1")
    expect(rows.nth(1)).to_contain_text(re.compile(r"\d+ ms"))

    page.get_by_label("Status").fill("403")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("POST")
    expect(page).to_have_url(re.compile(r"status=403"))  # the filters are in the address: a link shares them
    page.get_by_label("Method").select_option("GET")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("No request matches these filters")).to_be_visible()

    page.goto(console.page_url(f"key.html?id={key['id']}"))
    page.get_by_role("link", name="Requests made with this key").click()
    expect(page.get_by_label("Key")).to_have_value(key["id"])
    expect(rows).to_have_count(2)


def test_the_logs_page_pages_through_many_requests(console: Console, open_page: OpenPage) -> None:
    key = console.gatekey.create_key(label="busy reader", permissions={"products": "read"})
    with httpx.Client(base_url=console.gatekey.url, headers={"Authorization": f"Bearer {key['secret']}"}) as store:
        for number in range(55):
            assert store.get(f"/products/p-{number}").status_code == 200
    wait_for_logs(console, key["id"], 55)

    page = open_page()
    sign_in(page, console)
    page.goto(console.page_url(f"logs.html?key_id={key['id']}"))
    rows = page.get_by_role("table").get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("/products/p-54")  # newest first
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(5)
    expect(rows.last).to_contain_text("/products/p-0")
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(50)
    expect(page.get_by_text("Page 1")).to_be_visible()


def wait_for_logs(console: Console, key_id: str, count: int) -> None:
    """Until the request log holds `count` requests of the key (logs arrive about a second after a request)."""
    deadline = time.monotonic() + 20
    with console.gatekey.admin() as admin:
        while len(admin.get("/v1/logs", params={"key_id": key_id, "limit": 200}).json()["data"]) < count:
            assert time.monotonic() < deadline, f"fewer than {count} requests of {key_id} were logged"
            time.sleep(0.25)


def test_a_keys_page_edits_rotates_and_reveals_an_hmac_key(console: Console, open_page: OpenPage) -> None:
    key = console.gatekey.create_key(label="signer", auth_mode="hmac", permissions={"products": "read"})
    page = open_page()
    sign_in(page, console)
    page.get_by_role("link", name="signer", exact=True).click()
    expect(page.get_by_role("heading", name="signer")).to_be_visible()

    page.get_by_label("Label", exact=True).fill("nightly signer")
    page.get_by_label("orders", exact=True).select_option("write")
    page.get_by_label("Expires").fill("2031-01-31T09:00")
    page.get_by_label("IP allowlist").fill("203.0.113.0/24")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("Changes saved.")
    expect(page.get_by_role("heading", name="nightly signer")).to_be_visible()
    with console.gatekey.admin() as admin:
        edited = admin.get(f"/v1/keys/{key['id']}").json()
    assert edited["label"] == "nightly signer"
    assert edited["permissions"] == {"orders": "write", "products": "read"}
    assert edited["ip_allowlist"] == ["203.0.113.0/24"]
    assert edited["expires_at"].startswith("2031-01-")

    page.get_by_role("button", name="Reveal").click()
    revealed = page.get_by_role("dialog", name="The key").get_by_label("The key").inner_text().strip()
    assert revealed == key["secret"]
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)

    page.get_by_role("button", name="Rotate").click()
    rotate = page.get_by_role("dialog", name="Rotate key")
    expect(rotate.get_by_label("Grace period")).to_be_focused()
    rotate.get_by_label("Grace period").select_option(label="1 hour")
    rotate.get_by_role("button", name="Rotate now").click()
    rotated = page.get_by_role("dialog", name="Key rotated")
    expect(rotated).to_contain_text("The old secret keeps working for 1 hour")
    new_secret = rotated.get_by_label("The key").inner_text().strip()
    assert new_secret != key["secret"]
    assert new_secret.split("_")[2][:22] == key["secret"].split("_")[2][:22]  # the same key id
    rotated.get_by_role("button", name="Done").click()
    expect(page.get_by_text("Last rotated")).to_be_visible()


def test_webhooks_show_their_secret_once_and_events_list_what_happened(
    console: Console, open_page: OpenPage, receiver: Receiver
) -> None:
    page = open_page()
    sign_in(page, console)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Every event, present and future").uncheck()
    page.get_by_label("key.revoked").check()
    page.get_by_role("button", name="Add webhook").click()
    added = page.get_by_role("dialog", name="Webhook added")
    assert added.get_by_label("The secret").inner_text().startswith("whsec_")
    added.get_by_role("button", name="Done").click()
    row = page.get_by_role("row").filter(has_text=receiver.url)
    expect(row).to_contain_text("key.revoked")

    page.get_by_label("URL").fill("ftp://example.com/hook")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_role("alert")).to_contain_text("https")  # the API's refusal, in words

    key = console.gatekey.create_key(label="short-lived", permissions={"products": "read"})
    with console.gatekey.admin() as admin:
        assert admin.delete(f"/v1/keys/{key['id']}").status_code == 200
    receiver.wait_for(1)
    assert receiver.events()[0]["type"] == "key.revoked"

    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    page.get_by_label("Type").select_option("key.revoked")
    rows = page.get_by_role("table").get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(rows.first).to_contain_text("key.revoked")
    expect(rows.first).to_contain_text(key["id"])
    expect(rows.filter(has_text="key.created")).to_have_count(0)

    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("button", name=f"Delete {receiver.url}").click()
    page.get_by_role("dialog", name="Delete this webhook?").get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_role("row").filter(has_text=receiver.url)).to_have_count(0)


def test_everything_works_from_the_keyboard(console: Console, open_page: OpenPage) -> None:
    page = open_page()
    sign_in(page, console)
    page.get_by_role("button", name="Create key").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create key")
    expect(dialog.get_by_label("Label", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Create key")).to_be_focused()

    page.keyboard.press("Enter")
    page.keyboard.type("typed key")
    page.keyboard.press("Enter")  # submits the form
    expect(page.get_by_role("dialog", name="Key created")).to_be_visible()
    expect(page.get_by_role("button", name="Copy key")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("link", name="typed key")).to_be_visible()

    focus_ring = page.get_by_role("link", name="typed key")
    focus_ring.focus()
    outline = focus_ring.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline != "none"  # focus is visible


def test_the_sign_in_page_says_what_is_missing(console: Console, open_page: OpenPage) -> None:
    page = open_page()
    page.goto(console.page_url("signin.html"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Fill in Organisation.")
    expect(page.get_by_label("Organisation")).to_be_focused()


def test_every_page_at_desktop_and_phone_width(console: Console, open_page: OpenPage) -> None:
    key = console.gatekey.create_key(label="catalog sync", permissions={"products": "read", "orders": "write"})
    with console.gatekey.client(key["secret"]) as store:
        store.get("/products")
        store.get("/orders/o-1")
    page = open_page()
    response = page.goto(console.page_url(f"signin.html?org={console.org_id}"))
    assert response is not None
    assert "default-src 'self'" in response.headers["content-security-policy"]
    save_screenshots(page, "signin")
    page.goto(console.page_url("invitation.html#token=not-a-real-token"))
    save_screenshots(page, "invitation")

    sign_in(page, console)
    pages = {
        "keys": ("index.html", "API keys"),
        "key": (f"key.html?id={key['id']}", "catalog sync"),
        "users": ("users.html", "Users"),
        "logs": ("logs.html", "Request logs"),
        "usage-without-plans": ("usage.html", "Usage"),
        "webhooks": ("webhooks.html", "Webhooks"),
        "events": ("events.html", "Events"),
    }
    for name, (path, heading) in pages.items():
        page.goto(console.page_url(path))
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        page.wait_for_load_state("networkidle")
        save_screenshots(page, name)

    phone = open_page(PHONE)
    sign_in(phone, console)
    phone.get_by_role("button", name="Create key").click()
    expect(phone.get_by_role("dialog", name="Create key").get_by_label("Label", exact=True)).to_be_in_viewport()
    assert not unnamed_controls(phone)
    phone.screenshot(path=SCREENSHOTS / "keys-create-phone.png")
    for link in ("Users", "Request logs", "Usage", "Webhooks", "Events", "API keys"):
        phone.keyboard.press("Escape")
        phone.get_by_role("navigation", name="Console").get_by_role("link", name=link).click()
        expect(phone.get_by_role("heading", name=link, exact=True)).to_be_visible()
