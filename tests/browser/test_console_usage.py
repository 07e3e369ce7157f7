"""The console's Usage page in a real browser (DESIGN §13): on a `gatekey serve` with plans, the plan, its limits,
what was used of the quota and the requests of each of the last 30 days, for the organisation or for a key with a
plan of its own; on one without plans, the plain word that there are none."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from gatekey.configuration import DEFAULT_CONFIG_FILE
from tests.browser.conftest import Console, save_screenshots, sign_in
from tests.e2e.server import ok, run_gatekey, start_gatekey

OpenPage = Callable[..., Page]
# `default_plan` before the demo store's first [table], or TOML would read it as one of that table's entries.
PLANS = """
[plans.roomy]
rate = 100
burst = 100
quota = { limit = 1000, period = "day" }
"""
THOUSAND = r"1\D?000"  # 1,000 or 1 000 or 1.000, as the reader's locale groups digits


@pytest.fixture(scope="module")
def plans_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("usage-config") / "gatekey.toml"
    path.write_text('default_plan = "roomy"\n\n' + DEFAULT_CONFIG_FILE.read_text() + PLANS)
    return path


@pytest.fixture(scope="module")
def console_with_plans(
    plans_config: Path, storage_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    # A storage endpoint of the test's own, so that `gatekey plans assign` reaches the store the server uses.
    with start_gatekey(
        tmp_path_factory.mktemp("usage-serve"), "--config", str(plans_config), "--storage-endpoint", storage_endpoint
    ) as gatekey:
        with gatekey.admin() as admin:
            org_id = ok(admin.get("/v1/me"))["org"]["id"]
        yield Console(gatekey, gatekey.admin_password, org_id)


def detail(page: Page, term: str) -> Locator:
    """The value the page shows for `term` in one of its lists of details."""
    term_shown = page.locator("dt").filter(has_text=re.compile(f"^{re.escape(term)}$"))
    return term_shown.locator("xpath=following-sibling::dd[1]")


def days_shown(page: Page) -> Locator:
    return page.get_by_role("table", name="Requests per day").get_by_role("row").filter(has=page.get_by_role("cell"))


def today_utc() -> date:
    return datetime.now(UTC).date()


def open_usage_from_the_navigation(page: Page) -> None:
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Usage").click()
    expect(page.get_by_role("heading", name="Usage", exact=True)).to_be_visible()


def test_the_usage_page_shows_the_plan_its_quota_and_the_requests_made_today(
    console_with_plans: Console, open_page: OpenPage
) -> None:
    console = console_with_plans
    made = 3
    with console.gatekey.admin() as store:  # the org's main key; its calls to /v1 count in no plan
        for _ in range(made):
            assert store.get("/products").status_code == 200

    page = open_page()
    sign_in(page, console)
    open_usage_from_the_navigation(page)
    expect(detail(page, "Plan")).to_have_text("roomy")
    expect(detail(page, "Rate")).to_have_text("100 requests per second")
    expect(detail(page, "Burst")).to_have_text("100 requests at once")
    expect(detail(page, "Quota")).to_have_text(re.compile(rf"^{THOUSAND} requests per day$"))
    expect(detail(page, "Used")).to_have_text(re.compile(rf"^{made} requests of {THOUSAND} \(0\.3\s?%\)$"))
    expect(page.get_by_role("meter", name="Share of the quota used")).to_have_attribute("value", str(made))
    expect(detail(page, "Remaining")).to_have_text(f"{1000 - made} requests")
    today = today_utc()
    expect(detail(page, "Period")).to_have_text(f"{today} (UTC)")
    expect(detail(page, "Resets")).to_have_text(f"{today + timedelta(days=1)} 00:00 UTC")

    days = days_shown(page)
    expect(days).to_have_count(30)
    expect(days.first.get_by_role("cell")).to_have_text([f"{today} (today)", str(made)])  # newest first
    expect(days.nth(1).get_by_role("cell")).to_have_text([str(today - timedelta(days=1)), "0"])
    expect(days.last.get_by_role("cell")).to_have_text([str(today - timedelta(days=29)), "0"])
    expect(page.get_by_text(f"{made} requests in all")).to_be_visible()
    save_screenshots(page, "usage")


def test_a_keys_page_names_its_plan_and_links_to_the_usage_it_counts_in(
    console_with_plans: Console, plans_config: Path, storage_endpoint: str, open_page: OpenPage
) -> None:
    console = console_with_plans
    shared = console.gatekey.create_key(label="shared reader", permissions={"products": "read"})
    apart = console.gatekey.create_key(label="apart reader", permissions={"products": "read"})
    assigned = run_gatekey(
        "plans", "assign", "--key", apart["id"], "--plan", "roomy", "--config", str(plans_config),
        "--storage-endpoint", storage_endpoint,
    )  # fmt: skip
    assert assigned.returncode == 0, assigned.stderr
    with console.gatekey.client(apart["secret"]) as store:
        for _ in range(2):
            assert store.get("/products").status_code == 200

    page = open_page()
    sign_in(page, console)
    page.goto(console.page_url(f"key.html?id={shared['id']}"))
    expect(detail(page, "Plan")).to_have_text("Organisation's plan (roomy)")
    page.get_by_role("link", name="Usage of this key's plan").click()
    expect(page.get_by_text('The key "shared reader" counts in your organisation\'s plan')).to_be_visible()
    expect(detail(page, "Plan")).to_have_text("roomy")

    page.goto(console.page_url(f"key.html?id={apart['id']}"))
    expect(detail(page, "Plan")).to_have_text("roomy (its own)")
    page.get_by_role("link", name="Usage of this key's plan").click()
    expect(page).to_have_url(re.compile(rf"usage\.html\?key_id={apart['id']}$"))
    expect(page.get_by_text('The key "apart reader" has a plan of its own')).to_be_visible()
    expect(detail(page, "Used")).to_have_text(re.compile(rf"^2 requests of {THOUSAND}"))
    expect(days_shown(page).first.get_by_role("cell")).to_have_text([f"{today_utc()} (today)", "2"])
    page.get_by_role("link", name="apart reader").click()
    expect(page.get_by_role("heading", name="apart reader")).to_be_visible()


def test_a_member_is_told_plainly_that_usage_is_for_admins(console_with_plans: Console, open_page: OpenPage) -> None:
    console = console_with_plans
    email, password = "ole@demo-store.example", "a member's long password"
    with console.gatekey.admin_person() as admin:
        user = ok(admin.post("/v1/users", json={"email": email, "name": "Ole", "role": "member"}), 201)
        invitation = ok(admin.post(f"/v1/users/{user['id']}/invitation"), 201)
        token = invitation["invitation_url"].split("#token=", 1)[1]
        ok(admin.post("/v1/invitations/accept", json={"token": token, "password": password}))

    page = open_page()
    sign_in(page, console, email=email, password=password)
    open_usage_from_the_navigation(page)
    expect(page.get_by_role("alert")).to_have_text("Only an admin of your organisation can do this.")
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_text("roomy")).to_have_count(0)


def test_without_plans_the_usage_page_says_there_are_none(console: Console, open_page: OpenPage) -> None:
    key = console.gatekey.create_key(label="unlimited reader", permissions={"products": "read"})
    page = open_page()
    sign_in(page, console)
    open_usage_from_the_navigation(page)
    no_plans = "This deployment has no plans: no rate limit or quota applies to your keys."
    expect(page.get_by_text(no_plans)).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)

    page.goto(console.page_url(f"key.html?id={key['id']}"))
    expect(page.get_by_role("heading", name="unlimited reader")).to_be_visible()
    expect(detail(page, "Permissions")).to_have_text("products: read")
    expect(detail(page, "Plan")).to_have_count(0)
    expect(page.get_by_role("link", name="Usage of this key's plan")).to_have_count(0)
