"""Each role logs in with Chromium, sees the console shell, and is refused where it should be."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Response, expect

from exchange_console.paths import BASE_DIR

# Committed rows, for the server process to read. Spelt out here, not only through the persona
# fixtures: pytest-django misses `transactional_db` when `persona` asks for it at run time.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The nav entries each role sees; greyed ones ("soon") are listed too, until their pages exist.
EVERYONES_SECTIONS = ["Dashboard", "Incidents", "Post-mortems", "Maintenance"]
SECTIONS_OF = {
    "viewer": EVERYONES_SECTIONS,
    "support": [*EVERYONES_SECTIONS, "Subscribers"],
    "commander": [*EVERYONES_SECTIONS, "Subscribers"],
    "admin": [*EVERYONES_SECTIONS, "Subscribers", "Audit log", "Admin"],
}
CONSOLE_ROLES = list(SECTIONS_OF)
BRAND_BACKGROUND = "rgb(15, 61, 94)"  # --brand in static/console/console.css
SCREENSHOTS = BASE_DIR / "test-results"

AT_LOGIN = re.compile(r"/accounts/login/(\?.*)?$")
AT_CONSOLE_HOME = re.compile(r"/console/$")


def sections(page: Page):
    return page.get_by_role("navigation", name="Console sections")


def expect_the_refusal_page(page: Page, response: Response | None) -> None:
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot open this page")


@pytest.mark.parametrize("name", CONSOLE_ROLES)
def test_each_role_logs_in_sees_the_console_shell_and_logs_out(page, log_in, persona, name):
    user = persona(name)
    static_responses: list[Response] = []
    page.on("response", lambda response: "/static/" in response.url and static_responses.append(response))

    page.goto("/console/")
    expect(page).to_have_url(AT_LOGIN)
    log_in(page, user)

    expect(page).to_have_url(AT_CONSOLE_HOME)
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(page.get_by_test_id("who")).to_contain_text(user.username)
    expect(page.get_by_test_id("who").locator(".role")).to_have_text(name.capitalize())
    expect(sections(page).get_by_role("listitem")).to_have_text(SECTIONS_OF[name])
    expect(sections(page).get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name=f"Your role: {name.capitalize()}")).to_be_visible()

    stylesheets = [response for response in static_responses if response.url.endswith("/console.css")]
    assert stylesheets, "the page never asked for console.css"
    assert all(response.status == 200 for response in static_responses), [
        (response.url, response.status) for response in static_responses
    ]
    expect(page.locator(".topbar")).to_have_css("background-color", BRAND_BACKGROUND)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(AT_LOGIN)
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.goto("/console/")
    expect(page).to_have_url(AT_LOGIN)


@pytest.mark.parametrize("name", ["viewer", "support", "commander"])
def test_a_role_below_admin_is_refused_the_audit_log(page, log_in, persona, name):
    log_in(page, persona(name))

    response = page.goto("/console/audit/")

    expect_the_refusal_page(page, response)
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_text("no console role")).to_have_count(0)
    expect(sections(page).get_by_role("link", name="Dashboard")).to_be_visible()


def test_an_admin_opens_the_audit_log_and_sees_their_own_account_created(page, log_in, admin):
    log_in(page, admin)

    sections(page).get_by_role("link", name="Audit log").click()

    expect(page).to_have_url(re.compile(r"/console/audit/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    table = page.get_by_role("table")
    expect(table.get_by_role("columnheader")).to_have_text(["When (UTC)", "Actor", "Action", "Target", "Changes"])
    expect(table.get_by_role("row").filter(has_text="user.create").filter(has_text=admin.username)).to_have_count(1)


@pytest.mark.parametrize("name", ["viewer", "commander"])
def test_a_role_below_admin_is_sent_away_from_the_django_admin(page, log_in, persona, name):
    log_in(page, persona(name))

    page.goto("/admin/")

    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    expect(page.get_by_text("not authorized to access this page")).to_be_visible()


def test_an_admin_gets_into_the_django_admin(page, log_in, admin):
    log_in(page, admin)

    sections(page).get_by_role("link", name="Admin", exact=True).click()

    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("heading", name="Users, roles and configuration")).to_be_visible()


def test_an_outsider_logs_in_and_is_told_they_have_no_console_role(page, log_in, outsider):
    page.goto("/accounts/login/")
    with page.expect_response(re.compile(r"/console/$")) as landing:
        log_in(page, outsider)

    expect_the_refusal_page(page, landing.value)
    expect(page.get_by_text("Your account has no console role yet")).to_be_visible()
    expect(page.get_by_test_id("who")).to_have_text(outsider.username)
    expect(sections(page).get_by_role("link")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_an_anonymous_visitor_is_sent_to_the_login_page(page):
    page.goto("/console/audit/")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/console/audit/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_role("navigation")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def test_a_wrong_password_is_refused_with_a_message(page, log_in, viewer):
    log_in(page, viewer, password="not-the-password-at-all")

    expect(page).to_have_url(AT_LOGIN)
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    expect(page.locator("#id_username")).to_have_value(viewer.username)
    page.goto("/console/")
    expect(page).to_have_url(AT_LOGIN)


SIZES = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
    "desktop": {"viewport": {"width": 1440, "height": 900}},
}


@pytest.mark.parametrize("size", SIZES)
def test_the_console_home_fits_the_screen_of_a_phone_and_a_desktop(open_page, log_in, commander, size):
    page = open_page(**SIZES[size])
    log_in(page, commander)
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"console-home-{size}.png"
    page.screenshot(path=path, full_page=True)

    assert overflow == 0, f"the page scrolls sideways by {overflow}px (see {path})"
    for region in (".topbar", ".content"):
        box = page.locator(region).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= SIZES[size]["viewport"]["width"]
