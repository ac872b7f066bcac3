"""An incident from declaration to published post-mortem, in Chromium, as two commanders.

The first commander declares the incident, posts an update (after a preview), resolves it, starts
the post-mortem, writes it and submits it; the second approves and publishes it, and the incident
ends in `postmortem`. Screenshots go to VAR_DIR/screenshots/.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from console.permissions import Role
from exchange_console.paths import VAR_DIR
from incidents.models import Component, ComponentStatus, Incident
from incidents.postmortems.models import Postmortem, PostmortemTemplate
from tests.browser.conftest import PASSWORD
from tests.conftest import make_persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

SCREENSHOTS = VAR_DIR / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
AT_INCIDENT = re.compile(r"/console/incidents/(INC-\d{4}-\d{4})/$")
AT_POSTMORTEM = re.compile(r"/console/postmortems/INC-\d{4}-\d{4}/(#.*)?$")


@pytest.fixture
def template(transactional_db) -> PostmortemTemplate:
    """The default template (transactional tests flush the row the migration made; this makes it again)."""
    return PostmortemTemplate.default()


@pytest.fixture
def trading(transactional_db) -> Component:
    return Component.objects.create(name="BTC-USD trading")


@pytest.fixture
def reviewer(transactional_db):
    """A second commander, who did not write the post-mortem and so may approve it."""
    return make_persona("rita-reviewer", Role.COMMANDER, password=PASSWORD)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)


def log_in_at(page: Page, log_in, user, path: str) -> None:
    """Log in from the login page and land on `path`."""
    page.goto(f"/accounts/login/?next={quote(path)}")
    log_in(page, user)
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def declare(page: Page) -> str:
    """Declare an incident on the page; return its code."""
    page.get_by_label("Title").fill("Orders to BTC-USD time out")
    page.get_by_label("BTC-USD trading").select_option(ComponentStatus.PARTIAL_OUTAGE)
    page.get_by_label("First public update (Markdown)").fill("We are looking into slow order acknowledgements.")
    page.get_by_role("button", name="Declare").click()
    expect(page).to_have_url(AT_INCIDENT)
    return AT_INCIDENT.search(page.url).group(1)


def post_update_with_preview(page: Page) -> None:
    composer = page.locator("#composer")
    composer.get_by_label("Message (Markdown)").fill("A **disk** on the matching host is slow; we are moving off it.")
    composer.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview").locator("strong")).to_have_text("disk")
    composer.get_by_role("button", name=re.compile(r"^Publish")).click()
    expect(page.locator("#incident-updates")).to_contain_text("is slow; we are moving off it.")


def resolve(page: Page) -> None:
    composer = page.locator("#composer")
    composer.get_by_label("Message (Markdown)").fill("Orders are acknowledged normally again.")
    composer.get_by_label("Move status to").select_option("resolved")
    composer.get_by_text("Component statuses").click()
    composer.get_by_label("BTC-USD trading").select_option(ComponentStatus.OPERATIONAL)
    composer.get_by_role("button", name=re.compile(r"^Publish")).click()
    expect(page.get_by_test_id("status").first).to_have_text("Resolved")


def write_and_submit(page: Page) -> None:
    """Fill the summary section and the public summary, then submit for review."""
    summary = page.locator("#section-summary")
    summary.get_by_text("Write summary").click()  # empty sections keep their form folded away
    summary.get_by_label("Summary (Markdown)").fill("A slow disk delayed order acknowledgements for **20 minutes**.")
    summary.get_by_role("button", name="Save").click()
    expect(page.locator("#section-summary .pm-body strong")).to_have_text("20 minutes")
    public = page.locator("#public-summary")
    public.get_by_label("Public summary (Markdown)").fill("Orders on BTC-USD were slow to confirm for 20 minutes.")
    public.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("public-summary")).to_contain_text("were slow to confirm")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_test_id("postmortem-status")).to_have_text("In review")


def test_a_commander_declares_resolves_and_writes_up_an_incident_that_another_approves_and_publishes(
    open_page, log_in, commander, reviewer, template, trading
):
    # given the first commander on the declare page
    page = open_page(viewport=DESKTOP)
    log_in_at(page, log_in, commander, "/console/incidents/new/")

    # when they declare, post an update after previewing it, and resolve
    code = declare(page)
    post_update_with_preview(page)
    screenshot(page, "incident-detail.png")
    resolve(page)

    # and start the post-mortem from the incident page, write it and submit it
    page.get_by_test_id("start-postmortem").click()
    expect(page).to_have_url(AT_POSTMORTEM)
    expect(page.get_by_role("heading", level=1)).to_have_text("Post-mortem: Orders to BTC-USD time out")
    expect(page.locator("#charts")).to_have_attribute("data-state", "drawn")
    expect(page.get_by_test_id("charts-summary")).to_contain_text("points")
    expect(page.get_by_test_id("timeline")).to_contain_text("We are looking into slow order acknowledgements.")
    write_and_submit(page)

    # then its author may not approve it, and is told why
    expect(page.get_by_role("button", name="Approve")).to_be_disabled()
    expect(page.get_by_test_id("approve-refusal")).to_have_text(
        "You wrote this post-mortem: another commander must approve it."
    )
    screenshot(page, "postmortem-in-review.png")

    # when the second commander approves and publishes
    other = open_page(viewport=DESKTOP)
    log_in_at(other, log_in, reviewer, f"/console/postmortems/{code}/")
    other.get_by_role("button", name="Approve").click()
    expect(other.get_by_test_id("postmortem-status")).to_have_text("Approved")
    other.get_by_role("button", name="Publish").click()
    expect(other.get_by_test_id("postmortem-status")).to_have_text("Published")
    screenshot(other, "postmortem-published.png")

    # then the incident shows status post-mortem
    other.get_by_test_id("incident-link").click()
    expect(other).to_have_url(re.compile(rf"/console/incidents/{code}/$"))
    expect(other.get_by_test_id("status").first).to_have_text("Post-mortem")
    postmortem = Postmortem.objects.select_related("incident").get(incident__code=code)
    assert postmortem.status == Postmortem.Status.PUBLISHED
    assert (postmortem.author, postmortem.approved_by) == (commander, reviewer)
    assert postmortem.incident.status == Incident.Status.POSTMORTEM
    trading.refresh_from_db()
    assert trading.status == ComponentStatus.OPERATIONAL
