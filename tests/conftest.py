"""Fixtures shared by the whole suite: personas, a logged-in client per role, CI guards."""

from __future__ import annotations

import inspect
import os

import pytest
import redis
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connection, connections

from console import services
from console.permissions import Role
from exchange_console import embedded_redis

REQUIRE_EXTERNAL_SERVICES = os.environ.get("REQUIRE_EXTERNAL_SERVICES", "").lower() == "true"
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"database: {settings.DATABASES['default']['ENGINE']}", f"redis: {settings.REDIS_URL}"]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not REQUIRE_EXTERNAL_SERVICES:
        return
    # The CI pass against the machine's services must not quietly fall back to embedded ones.
    if connection.vendor != "postgresql":
        pytest.exit("REQUIRE_EXTERNAL_SERVICES: DATABASE_URL must point at PostgreSQL", returncode=3)
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.exit(f"REQUIRE_EXTERNAL_SERVICES: Redis at {settings.REDIS_URL} is unreachable: {error}", returncode=3)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Under CI nothing may be skipped: a skip there means a missing install step.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if IN_CI and skipped and exitstatus == 0:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; failing the run.", red=True)
        session.exitstatus = 1


def pytest_unconfigure(config: pytest.Config) -> None:
    # Leave the machine as we found it: stop the embedded Redis if this run started it.
    if embedded_redis.started_here is not None:
        embedded_redis.started_here.stop()


@pytest.fixture
def roles(db) -> None:
    """The role groups (transactional tests flush the ones the migration made)."""
    services.ensure_role_groups()


def make_persona(username: str, role: Role | None, *, password: str | None = None):
    services.ensure_role_groups()
    return services.create_user(username=username, role=role, password=password, by=None, source="system")


# Who the tests meet: fixture name -> (username, role). The outsider is logged in but holds
# no role, and must be refused everywhere in the console.
PERSONA_ACCOUNTS = {
    "viewer": ("vera-viewer", Role.VIEWER),
    "support": ("sam-support", Role.SUPPORT),
    "commander": ("cora-commander", Role.COMMANDER),
    "admin": ("ada-admin", Role.ADMIN),
    "outsider": ("olly-outsider", None),
}


def persona_fixture(name: str, *, transactional: bool = False, password: str | None = None):
    """Return a fixture creating the persona `name`, with a password if given.

    The database fixture is a parameter, not looked up at run time: pytest-django orders its
    database set-up by the fixtures a test declares.
    """
    username, role = PERSONA_ACCOUNTS[name]

    if transactional:

        def fixture(transactional_db):
            return make_persona(username, role, password=password)

    else:

        def fixture(db):
            return make_persona(username, role, password=password)

    return pytest.fixture(fixture, name=name)


viewer = persona_fixture("viewer")
support = persona_fixture("support")
commander = persona_fixture("commander")
admin = persona_fixture("admin")
outsider = persona_fixture("outsider")


PERSONAS = ["anonymous", "outsider", "viewer", "support", "commander", "admin"]


@pytest.fixture
def persona(request: pytest.FixtureRequest):
    """Return the user for a persona name (None for anonymous); for parametrized tests."""

    def get(name: str):
        return None if name == "anonymous" else request.getfixturevalue(name)

    return get


@pytest.fixture(autouse=True)
def status_export_dir(settings, tmp_path_factory):
    """Each test's public changes export the static status page into a folder of its own, never VAR_DIR's."""
    settings.STATUS_EXPORT_DIR = tmp_path_factory.mktemp("status-export")
    return settings.STATUS_EXPORT_DIR


@pytest.fixture(autouse=True)
def _executor_connection_closed(request):
    """After an async test, close the database connection of asgiref's executor thread.

    Async tests reach the ORM through `sync_to_async`, which (with no outer `async_to_sync`) runs
    in one long-lived executor thread with a connection of its own. Left open to the end, it kept
    PostgreSQL from dropping the test database ("is being accessed by other users").
    """
    yield
    if inspect.iscoroutinefunction(getattr(request, "function", None)):
        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
