"""The public status page in Chromium, anonymous and with JavaScript off, at desktop and phone widths.

Screenshots go to VAR_DIR/screenshots/ (status-desktop.png, status-phone.png) for people to look at.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exchange_console.paths import VAR_DIR
from incidents import services
from incidents.models import Component, ComponentGroup, ComponentStatus, ComponentStatusChange, Incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = VAR_DIR / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def backdate_change(component: Component, *, days_ago: float, previous: str, status: str) -> None:
    """Record a status change in the past, as the services would have then."""
    at = timezone.now() - timedelta(days=days_ago)
    ComponentStatusChange.objects.create(component=component, at=at, previous=previous, status=status)


@pytest.fixture
def exchange(commander) -> dict[str, Component]:
    """Two groups of components with 90 days of history, a past incident and an open one (committed rows)."""
    trading = ComponentGroup.objects.create(name="Trading", position=0)
    platform = ComponentGroup.objects.create(name="Platform", position=1)
    names = {"btc": ("BTC-USD trading", trading), "eth": ("ETH-USD trading", trading),
             "api": ("REST and WebSocket API", platform), "funds": ("Deposits and withdrawals", platform)}  # fmt: skip
    components = {key: Component.objects.create(name=name, group=group) for key, (name, group) in names.items()}
    for component in components.values():
        backdate_change(component, days_ago=120, previous="operational", status="operational")
    backdate_change(components["api"], days_ago=40.2, previous="operational", status="partial_outage")
    backdate_change(components["api"], days_ago=40, previous="partial_outage", status="operational")
    backdate_change(components["funds"], days_ago=12.3, previous="operational", status="major_outage")
    backdate_change(components["funds"], days_ago=12.2, previous="major_outage", status="operational")
    past = services.declare_incident(
        title="Withdrawals delayed", by=commander, message="Withdrawals are queued; funds are safe.",
        started_at=timezone.now() - timedelta(days=3, hours=2),
    )  # fmt: skip
    services.post_update(incident=past, body="All queued withdrawals were sent.", status="resolved", by=commander)
    Incident.objects.filter(pk=past.pk).update(resolved_at=past.started_at + timedelta(hours=1, minutes=40))
    services.declare_incident(
        title="Elevated order latency on ETH-USD", by=commander,
        message="Orders on ETH-USD take longer than usual to be acknowledged. We are investigating.",
        components={components["eth"]: ComponentStatus.DEGRADED_PERFORMANCE},
    )  # fmt: skip
    return components


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)


@pytest.mark.parametrize(("viewport", "name"), [(DESKTOP, "status-desktop.png"), (PHONE, "status-phone.png")])
def test_an_anonymous_reader_sees_the_status_and_components_without_javascript(open_page, exchange, viewport, name):
    page = open_page(viewport=viewport, java_script_enabled=False)

    response = page.goto("/")

    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", name="Minor Service Outage")).to_be_visible()
    expect(page.get_by_role("heading", name="ETH-USD trading")).to_be_visible()
    expect(page.get_by_text("Degraded performance").first).to_be_visible()
    assert page.context.cookies() == []
    for landmark in ("banner", "main", "contentinfo"):
        expect(page.get_by_role(landmark)).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # no sideways scrolling
    screenshot(page, name)


def test_a_reader_follows_an_incident_to_its_page_and_the_history(open_page, exchange):
    page = open_page(viewport=DESKTOP, java_script_enabled=False)
    page.goto("/")

    page.get_by_role("link", name="Withdrawals delayed").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Withdrawals delayed")
    expect(page.get_by_text("1 h 40 min")).to_be_visible()
    screenshot(page, "status-incident.png")
    page.get_by_role("link", name="Incident history").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Incident history")
    screenshot(page, "status-history.png")
