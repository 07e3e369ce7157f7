"""Browser fixtures: Debian's Chromium driven by Playwright against a real `gatekey serve`, one per test module."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, ViewportSize, sync_playwright

from tests.e2e.server import RunningGatekey, start_gatekey

CHROMIUM = Path(os.environ.get("GATEKEY_CHROMIUM", "/usr/bin/chromium"))
# Headless, and nothing the browser would fetch for itself from the internet (this machine reaches none).
CHROMIUM_ARGUMENTS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 800}
ADMIN_EMAIL = "admin@demo-store.example"  # whom `gatekey serve` bootstraps


def find_chromium(executable: Path = CHROMIUM) -> Path:
    """The Chromium the tests drive; fails (never skips) saying what to install when it is missing."""
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        pytest.fail(
            f"Chromium is not installed at {executable}: the browser tests need Debian's chromium. "
            "Install it with `apt-get install -y chromium` as root (`make test` does this when run as root), "
            "or point GATEKEY_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )
    return executable


@dataclass
class Console:
    """A running Gatekey and what a person needs to sign in to its console."""

    gatekey: RunningGatekey
    admin_password: str
    org_id: str

    @property
    def url(self) -> str:
        return f"{self.gatekey.url}/dashboard/"

    def page_url(self, name: str) -> str:
        return f"{self.url}{name}"

    def keys_via_api(self, **filters: str) -> list[dict[str, Any]]:
        """Every key of the org, as the admin's API key sees them (what the pages did, checked from outside)."""
        with self.gatekey.admin() as admin:
            response = admin.get("/v1/keys", params={"limit": 200, **filters})
        assert response.status_code == 200, response.text
        keys: list[dict[str, Any]] = response.json()["data"]
        return keys


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    find_chromium()
    with start_gatekey(tmp_path_factory.mktemp("console")) as gatekey:
        with gatekey.admin() as admin:
            org_id = admin.get("/v1/me").json()["org"]["id"]
        yield Console(gatekey, gatekey.admin_password, org_id)


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        yield launch(playwright)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(find_chromium()), args=CHROMIUM_ARGUMENTS)


@dataclass
class PageProblems:
    """What went wrong inside a page: uncaught errors and refusals such as Content-Security-Policy violations."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.messages.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        # A 4xx the page asked for and handled (a wrong password, say) is logged by Chromium; it is no fault.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.messages.append(message.text)


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """A page in a fresh browser context (its own cookies: a person of their own). Every page opened must end
    the test without an uncaught error or a refused resource."""
    contexts: list[BrowserContext] = []
    problems = PageProblems()

    def new_page(viewport: ViewportSize | None = None) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    yield new_page
    for context in contexts:
        context.close()
    assert not problems.messages, "the pages reported errors:\n" + "\n".join(problems.messages)


def sign_in(page: Page, console: Console, email: str = ADMIN_EMAIL, password: str | None = None) -> None:
    """Through the sign-in page, as a person does, arriving on the API keys page."""
    page.goto(console.page_url(f"signin.html?org={console.org_id}"))
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password or console.admin_password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="API keys").wait_for()


def session_cookie(page: Page) -> str:
    cookies = [cookie for cookie in page.context.cookies() if cookie["name"] == "gatekey_session"]
    assert len(cookies) == 1, cookies
    return cookies[0]["value"]


def console_client(console: Console, cookie: str) -> httpx.Client:
    """httpx speaking as the console does: the session cookie and the console's header."""
    return httpx.Client(
        base_url=console.gatekey.url,
        headers={"Cookie": f"gatekey_session={cookie}", "X-Gatekey-Console": "1"},
        timeout=10,
    )


UNNAMED_CONTROLS = """() => [...document.querySelectorAll("a, button, input, select, textarea, summary")]
    .filter((control) => control.type !== "hidden" && control.getClientRects().length)
    .filter((control) => !(control.labels?.length || control.getAttribute("aria-label")
        || control.getAttribute("aria-labelledby") || control.textContent.trim() || control.getAttribute("title")))
    .map((control) => control.outerHTML)"""


def unnamed_controls(page: Page) -> list[str]:
    """The visible controls of the page that have no accessible name (no label, text or aria naming)."""
    controls: list[str] = page.evaluate(UNNAMED_CONTROLS)
    return controls


def save_screenshots(page: Page, name: str) -> None:
    """`build/screenshots/<name>-desktop.png` and `-phone.png`. Every control the page shows must have an
    accessible name, and at phone width nothing may stick out sideways."""
    assert not unnamed_controls(page), name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} is {overflow} px wider than a 375 px phone"
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)
