"""Maintenance in the static copy and in every public output: exported on each move, served, and nothing internal."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar
from kombu import Connection

from engine.models import Market
from incidents import publishing
from incidents.maintenance import health
from incidents.maintenance import services as maintenance
from incidents.maintenance.models import MaintenanceWindow, MarketAction, WindowEvent
from incidents.models import Component
from incidents.statuspage import api_v2, export, fastpath, tasks, views
from tests.incidents.maintenance.conftest import T0, schedule
from tests.incidents.statuspage.test_fast_path import Downstream, get
from tests.incidents.statuspage.test_static_copy import APP_ONLY, LINK, export_dir, fetch, nginx, served  # noqa: F401 (fixtures)
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db

START = T0 + timedelta(days=1)  # when `schedule` starts a window by default
SECRET = "ZEBRA-7731-INTERNAL"  # a marker no public output may ever contain


@pytest.fixture
def trading() -> Component:
    return Component.objects.create(name="BTC-USD trading")


@pytest.fixture
def window(commander, trading) -> MaintenanceWindow:
    return schedule(commander, [trading], description="Orders are paused during the upgrade.")


@pytest.fixture
def secretive(commander, trading, monkeypatch) -> dict[str, MaintenanceWindow]:
    """Windows in every status, carrying internal facts: log entries, engine actions, verification problems."""
    market = Market.objects.create(symbol="QQZX-7731", shard="statuspage-test-nobody", band_bps=None)
    monkeypatch.setattr(health, "problems", lambda window, now=None: [f"engine shard main: {SECRET} problem"])
    windows = {
        status: schedule(commander, [trading], start=START + timedelta(days=number), title=f"Window {status}")
        for number, status in enumerate(["verifying", "scheduled", "cancelled"])
    }
    MarketAction.objects.create(window=windows["verifying"], market=market, action=MarketAction.Action.NONE,
                                previous_mode="post_only", last_error=f"{SECRET} engine refused")  # fmt: skip
    maintenance.tick(now=START)
    maintenance.tick(now=START + timedelta(hours=2))  # ended; health "holds" it in verifying
    maintenance.cancel_window(window=windows["cancelled"], by=commander, reason=f"{SECRET} reason", now=START)
    for window in windows.values():
        WindowEvent.objects.create(window=window, kind="note", summary=f"{SECRET} internal log")
    assert MaintenanceWindow.objects.get(pk=windows["verifying"].pk).verification_problems
    return windows


def public_urls(windows: list[MaintenanceWindow]) -> list[str]:
    return [
        "/", "/status/", "/history/", "/history.atom", "/history.rss", "/maintenance.ics",
        *(f"/api/v2/{name}" for name in api_v2.DOCUMENTS), *(f"/maintenance/{window.code}/" for window in windows),
    ]  # fmt: skip


def leaks(text: str) -> list[str]:
    internal = [SECRET, "QQZX", "post_only", "cora-commander", "started on schedule", "engine health", "heartbeat"]
    return [marker for marker in internal if marker in text]


def test_no_internal_fact_of_a_window_reaches_any_public_output(client, secretive):
    for url in public_urls(list(secretive.values())):
        response = client.get(url)
        assert response.status_code == 200, url
        assert leaks(response.content.decode()) == [], url


def test_no_internal_fact_of_a_window_reaches_the_static_copy(secretive, status_export_dir):
    release = export.export_status_page()

    files = [path for path in release.rglob("*") if path.is_file() and "static" not in path.parts]
    assert [path for path in files if leaks(path.read_text())] == []
    assert {f"maintenance/{window.code}/index.html" for window in secretive.values()} <= {
        path.relative_to(release).as_posix() for path in files
    }


def test_a_schedule_reaches_the_static_copy_even_with_the_broker_down(
    commander, trading, monkeypatch, status_export_dir, django_capture_on_commit_callbacks
):
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: the listener exports inline
    monkeypatch.setattr(tasks, "broker_connection", lambda: Connection(nowhere, transport_options=tasks.FAIL_FAST))

    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(commander, [trading], title="Database upgrade")

    current = status_export_dir / "current"
    assert "Database upgrade" in (current / "maintenance" / window.code / "index.html").read_text()
    [event] = Calendar.from_ical((current / "maintenance.ics").read_bytes()).events
    assert str(event["UID"]).startswith(window.code)
    assert f'href="/maintenance/{window.code}/"' in (current / "index.html").read_text()
    upcoming = json.loads((current / "api" / "v2" / "scheduled-maintenances" / "upcoming.json").read_text())
    assert [item["id"] for item in upcoming["scheduled_maintenances"]] == [window.code]


def test_every_maintenance_move_queues_an_export(commander, trading, django_capture_on_commit_callbacks):
    delivered: list[publishing.Change] = []
    publishing.listen(delivered.append)  # after the export listener: sees each change it was given
    try:
        with (
            mock.patch.object(tasks.export_status_page_task, "apply_async") as queued,
            django_capture_on_commit_callbacks(execute=True),
        ):
            window = schedule(commander, [trading])
            other = schedule(commander, [trading], start=START + timedelta(days=3))
            maintenance.reschedule_window(window=window, by=commander, scheduled_for=START + timedelta(hours=1),
                                          scheduled_until=START + timedelta(hours=2), now=T0)  # fmt: skip
            maintenance.cancel_window(window=other, by=commander, now=T0)
            maintenance.tick(now=START + timedelta(hours=1))
            maintenance.extend_window(window=window, by=commander, until=START + timedelta(hours=3), now=START)
            maintenance.tick(now=START + timedelta(hours=3))
    finally:
        publishing.forget(delivered.append)
    moves = {"scheduled", "rescheduled", "cancelled", "started", "extended", "verifying", "completed"}
    assert {f"maintenance_{move}" for move in moves} <= {change.kind for change in delivered}
    assert queued.call_count == len(delivered)


def test_the_fast_path_serves_the_calendar_and_the_window_page(window, status_export_dir):
    release = export.export_status_page(status_export_dir)
    app = fastpath.StatusPageFastPath(Downstream(), status_export_dir)

    status, headers, body = get(app, "/maintenance.ics")
    assert status == 200
    assert headers[b"content-type"] == b"text/calendar; charset=utf-8"
    assert body == (release / "maintenance.ics").read_bytes()
    status, headers, body = get(app, f"/maintenance/{window.code}/")
    assert status == 200
    assert b"Database upgrade" in body
    assert app.app.paths == []


def test_nginx_serves_the_calendar_as_text_calendar_and_the_window_page(nginx, window):  # noqa: F811
    export.export_status_page()

    status, headers, body = fetch(nginx + "/maintenance.ics")
    assert status == 200
    assert headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert Calendar.from_ical(body).events
    _, headers, _ = fetch(nginx + "/maintenance.ics")
    assert fetch(nginx + "/maintenance.ics", {"If-None-Match": headers["ETag"]})[0] == 304
    status, _, body = fetch(f"{nginx}/maintenance/{window.code}/")
    assert status == 200
    assert b"Orders are paused during the upgrade." in body
    assert fetch(nginx + "/maintenance/MNT-1999-0001/")[0] == 404


def test_the_exported_window_page_and_calendar_are_what_the_app_serves(window, client, status_export_dir, settings):
    settings.STATUS_PAGE_URL = "http://testserver"
    current = Path(export.export_status_page(status_export_dir))

    assert (current / "maintenance" / window.code / "index.html").read_bytes() == client.get(
        f"/maintenance/{window.code}/"
    ).content
    assert (current / "maintenance.ics").read_bytes() == client.get("/maintenance.ics").content


def test_every_link_of_the_exported_maintenance_pages_reaches_an_exported_file(commander, window, status_export_dir):
    maintenance.tick(now=START)
    current = export.export_status_page(status_export_dir)
    pages = ["index.html", f"maintenance/{window.code}/index.html", "history/index.html"]

    links = {link for page in pages for link in LINK.findall((current / page).read_text())}

    assert {f"/maintenance/{window.code}/", "/maintenance.ics", "/static/status/maintenance.css"} <= links
    assert [link for link in links if not link.startswith(APP_ONLY) and served(current, link) is None] == []


def test_the_home_page_costs_the_same_queries_however_many_windows(commander, trading):
    def queries_of_the_home_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            views.render_status_page()
        return len(captured.captured_queries)

    schedule(commander, [trading], title="First")
    first = queries_of_the_home_page()
    for day in (3, 5, 7):
        other = Component.objects.create(name=f"Component {day}")
        schedule(commander, [trading, other], start=T0 + timedelta(days=day), title=f"Window {day}")
    maintenance.tick(now=T0 + timedelta(days=1))

    assert queries_of_the_home_page() == first
