"""Browser fixtures: one Chromium and one uvicorn for the package, a fresh context per test.

Personas here log in through the login form, so they get a real password, and their rows
must be committed for the server (another process) to see them: hence `transactional_db`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import persona_fixture
from tests.support.processes import asgi_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "plum-harbour-candle-47"

Opener = Callable[..., Page]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Launch Debian's Chromium once for the browser tests (never a downloaded one)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed: `apt-get install -y chromium` to run the browser tests")
    # While Playwright's sync API is alive its event loop counts as running in this thread,
    # so Django refuses every ORM call (SynchronousOnlyOperation) - the personas we create
    # and the flush after each test included. Those calls are plain synchronous code that
    # never runs inside the loop, so allowing them is safe; the flag is set only while the
    # browser lives, and the package scope stops Playwright before the async tests run.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def console_url(django_db_setup) -> Iterator[str]:
    """Serve the real app under uvicorn against the test database; it reads the DB per request."""
    with asgi_server() as url:
        yield url


@pytest.fixture
def open_page(browser: Browser, console_url: str) -> Iterator[Opener]:
    """Return a function opening a page in a new context (new cookies); all closed after the test."""
    contexts = []

    def open_(**context_options: Any) -> Page:
        context = browser.new_context(base_url=console_url, **context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page: Opener) -> Page:
    return open_page()


@pytest.fixture
def log_in() -> Callable[..., None]:
    """Return a function that signs a user in through the login form."""

    def log_in_(page: Page, user: Any, *, password: str = PASSWORD) -> None:
        if "/accounts/login/" not in page.url:
            page.goto("/accounts/login/")
        page.locator("#id_username").fill(user.username)
        page.locator("#id_password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()

    return log_in_


# The personas of tests/conftest.py, with a password, committed for the server to read.
viewer = persona_fixture("viewer", transactional=True, password=PASSWORD)
support = persona_fixture("support", transactional=True, password=PASSWORD)
commander = persona_fixture("commander", transactional=True, password=PASSWORD)
admin = persona_fixture("admin", transactional=True, password=PASSWORD)
outsider = persona_fixture("outsider", transactional=True, password=PASSWORD)
