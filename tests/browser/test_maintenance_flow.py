"""A commander schedules maintenance in Chromium, and customers see it on the public status page.

The commander fills the schedule form (a window starting a few minutes ahead, one market in
cancel-only), previews the description, lands on the window's page, and an anonymous visitor
finds it under "Scheduled maintenance" on the status page. Screenshots go to VAR_DIR/screenshots/.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from engine.models import Market
from exchange_console.paths import VAR_DIR
from incidents.maintenance.models import MaintenanceWindow
from incidents.models import Component, ComponentGroup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

SCREENSHOTS = VAR_DIR / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
AT_WINDOW = re.compile(r"/console/maintenance/(MNT-\d{4}-\d{4})/$")
TITLE = "BTC-USD matching engine upgrade"


@pytest.fixture
def exchange(transactional_db) -> dict[str, object]:
    """A market and its trading component, and a component the window leaves alone (committed rows)."""
    group = ComponentGroup.objects.create(name="Trading", position=0)
    btc = Market.objects.create(symbol="BTC-USD", shard="browser-no-engine")
    trading = Component.objects.create(name="BTC-USD trading", group=group, market=btc)
    deposits = Component.objects.create(name="Deposits", group=group)
    return {"btc": btc, "trading": trading, "deposits": deposits}


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)


def typed(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def fill_the_schedule_form(page: Page, start: datetime, market: Market) -> None:
    form = page.locator("#schedule-form")
    form.get_by_label("Title").fill(TITLE)
    form.get_by_label("Description (Markdown)").fill("Orders can be **cancelled** but not placed.")
    form.get_by_label("Starts (UTC)").fill(typed(start))
    form.get_by_label("Ends (UTC)").fill(typed(start + timedelta(hours=1)))
    form.get_by_label("BTC-USD trading").check()
    form.locator(f'select[name="action_{market.pk}"]').select_option("cancel_only")
    form.get_by_label("First message to customers (Markdown)").fill("We upgrade the BTC-USD matching engine.")


def test_a_commander_schedules_maintenance_and_customers_see_it_on_the_status_page(open_page, log_in, commander,
                                                                                     exchange):  # fmt: skip
    # given a commander on the schedule form
    page = open_page(viewport=DESKTOP)
    page.goto(f"/accounts/login/?next={quote('/console/maintenance/new/')}")
    log_in(page, commander)
    expect(page).to_have_url(re.compile(r"/console/maintenance/new/$"))
    expect(page.get_by_text("All times are UTC.", exact=False)).to_be_visible()

    # when they fill it, preview the description and schedule a window a few minutes ahead
    start = (timezone.now() + timedelta(minutes=10)).replace(second=0, microsecond=0)
    fill_the_schedule_form(page, start, exchange["btc"])
    page.get_by_role("button", name="Preview description").click()
    expect(page.get_by_test_id("preview").locator("strong")).to_have_text("cancelled")
    expect(page.locator("#schedule-form").get_by_label("BTC-USD trading")).to_be_checked()
    screenshot(page, "maintenance-schedule.png")
    page.get_by_role("button", name="Schedule", exact=True).click()

    # then they land on the window's page, scheduled, with its engine action and first update
    expect(page).to_have_url(AT_WINDOW)
    code = AT_WINDOW.search(page.url).group(1)
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_test_id("status")).to_have_text("Scheduled")
    expect(page.locator(".messages")).to_contain_text(f"{code} scheduled for")
    expect(page.get_by_test_id("engine-actions").locator('tr[data-market="BTC-USD"]')).to_contain_text("Cancel only")
    expect(page.get_by_test_id("updates")).to_contain_text("We upgrade the BTC-USD matching engine.")
    expect(page.get_by_test_id("components")).to_contain_text("BTC-USD trading")
    screenshot(page, "maintenance-detail.png")
    window = MaintenanceWindow.objects.get(code=code)
    assert (window.status, window.scheduled_for) == (MaintenanceWindow.Status.SCHEDULED, start)

    # and the list shows it among the upcoming windows
    page.get_by_role("navigation", name="Console sections").get_by_role("link", name="Maintenance").click()
    expect(page.get_by_test_id("upcoming").locator(f'tr[data-code="{code}"]')).to_contain_text(TITLE)
    screenshot(page, "maintenance-list.png")

    # and the dashboard's maintenance panel
    page.get_by_role("navigation", name="Console sections").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("upcoming-maintenance").locator(f'[data-code="{code}"]')).to_contain_text(TITLE)

    # when an anonymous visitor opens the status page
    public = open_page(viewport=DESKTOP, java_script_enabled=False)
    public.goto("/")

    # then the window is listed under scheduled maintenance
    section = public.locator("section", has=public.get_by_role("heading", name="Scheduled maintenance"))
    expect(section).to_contain_text(TITLE)
    screenshot(public, "maintenance-status-page.png")
