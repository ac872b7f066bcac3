"""Maintenance windows on the public side: the home page, their own pages, the history, the feeds, the ETag."""

from __future__ import annotations

from datetime import UTC, timedelta

import feedparser
import pytest
from django.test import Client
from django.utils import timezone

from incidents import services
from incidents.maintenance import services as maintenance
from incidents.maintenance.models import MaintenanceWindow
from incidents.models import Component
from incidents.statuspage import queries, views
from tests.incidents.maintenance.conftest import T0, schedule

pytestmark = pytest.mark.django_db

START = T0 + timedelta(days=1)  # when `schedule` starts a window by default
FEEDS = ["/history.atom", "/history.rss"]


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture
def trading() -> Component:
    return Component.objects.create(name="BTC-USD trading")


@pytest.fixture
def deposits() -> Component:
    return Component.objects.create(name="Deposits")


@pytest.fixture
def window(commander, trading) -> MaintenanceWindow:
    return schedule(commander, [trading], description="Orders are **paused** during the upgrade.")


def text_of(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def parse(client: Client, path: str):
    response = client.get(path)
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


# The home page.


def test_the_home_page_shows_an_upcoming_window_with_its_time_components_description_and_latest_update(
    anonymous, window
):
    page = text_of(anonymous, "/")

    assert "No maintenance is in progress or scheduled." not in page
    assert f'<a href="/maintenance/{window.code}/">Database upgrade</a>' in page
    assert '<span class="badge maintenance-badge-scheduled">Scheduled</span>' in page
    assert '<time datetime="2030-03-05T12:00:00+00:00">5 Mar 2030, 12:00</time>' in page
    assert '<time datetime="2030-03-05T14:00:00+00:00">14:00</time> UTC' in page
    assert "Affects: BTC-USD trading" in page
    assert "Orders are <strong>paused</strong> during the upgrade." in page
    assert "Maintenance is scheduled from 2030-03-05 12:00 UTC to 2030-03-05 14:00 UTC." in page
    assert "Maintenance in progress" not in page
    assert "maintenance-active" not in page


def test_an_active_window_is_shown_apart_from_upcoming_ones_and_first(anonymous, commander, window, deposits):
    later = schedule(commander, [deposits], start=START + timedelta(days=2), title="Wallet migration")
    maintenance.tick(now=START)

    page = text_of(anonymous, "/")

    assert page.index("Maintenance in progress") < page.index("Database upgrade") < page.index("Scheduled maintenance")
    assert page.index("Scheduled maintenance") < page.index("Wallet migration")
    assert page.count('class="panel maintenance-card maintenance-active"') == 1
    assert page.count('class="panel maintenance-card"') == 1
    assert '<span class="badge maintenance-badge-in_progress">In progress</span>' in page
    assert "The scheduled maintenance is in progress." in page
    assert "Service Under Maintenance" in page  # its component is under maintenance
    assert f'href="/maintenance/{later.code}/"' in page


def test_a_window_moving_to_in_progress_shows_at_once_with_a_new_etag(anonymous, window):
    before = anonymous.get("/")
    assert "Maintenance in progress" not in before.content.decode()

    maintenance.tick(now=START)
    after = anonymous.get("/", headers={"If-None-Match": before.headers["ETag"]})

    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert "Maintenance in progress" in after.content.decode()
    assert anonymous.get("/", headers={"If-None-Match": after.headers["ETag"]}).status_code == 304


def test_with_only_active_maintenance_the_upcoming_list_says_nothing_more_is_scheduled(anonymous, window):
    maintenance.tick(now=START)

    page = text_of(anonymous, "/")

    assert "No further maintenance is scheduled." in page
    assert "No maintenance is in progress or scheduled." not in page


def test_completed_and_cancelled_windows_leave_the_home_page(anonymous, commander, window, deposits):
    other = schedule(commander, [deposits], title="Wallet migration")
    maintenance.cancel_window(window=other, by=commander, now=T0 + timedelta(hours=1))
    maintenance.tick(now=START)
    maintenance.tick(now=START + timedelta(hours=2))

    page = text_of(anonymous, "/")

    assert "No maintenance is in progress or scheduled." in page
    assert "Wallet migration" not in page
    assert queries.scheduled_maintenance() == []


def test_completed_windows_of_the_last_14_days_show_under_their_day_in_the_past_section(
    anonymous, commander, trading, deposits
):
    now = timezone.now().astimezone(UTC).replace(second=0, microsecond=0)
    recent = schedule(commander, [trading], now=now - timedelta(days=3), start=now - timedelta(days=2), hours=1)
    old = schedule(commander, [deposits], now=now - timedelta(days=30), start=now - timedelta(days=20), hours=1,
                   title="Wallet migration")  # fmt: skip
    for window in (old, recent):
        maintenance.tick(now=window.scheduled_for)
        maintenance.tick(now=window.scheduled_until)

    page = text_of(anonymous, "/")
    past = page[page.index("Past incidents") :]

    assert f'<a href="/maintenance/{recent.code}/">Database upgrade</a>' in past
    assert '<span class="badge maintenance-badge-completed">Completed</span>' in past
    assert past.index((now - timedelta(days=2)).strftime("%Y-%m-%d")) < past.index("Database upgrade")
    assert past.count("No incidents reported.") == 13
    assert "Wallet migration" not in page
    assert "No maintenance is in progress or scheduled." in page


def test_the_home_page_links_the_maintenance_calendar(anonymous, trading):
    page = text_of(anonymous, "/")

    assert '<link rel="alternate" type="text/calendar" title="Maintenance calendar (iCalendar)"' in page
    assert 'href="/maintenance.ics"' in page


# The window's own page.


def test_the_window_page_shows_every_public_update_newest_first(anonymous, commander, window):
    maintenance.tick(now=START)
    maintenance.extend_window(
        window=window, by=commander, until=START + timedelta(hours=4), message="Migrations are slower than planned.",
        now=START + timedelta(hours=1),
    )  # fmt: skip

    page = text_of(anonymous, f"/maintenance/{window.code}/")

    assert '<h1 class="page-title">Database upgrade</h1>' in page
    assert window.code in page
    assert '<span class="badge maintenance-badge-in_progress">In progress</span>' in page
    extended, started, scheduled = (
        page.index("Migrations are slower than planned."),
        page.index("The scheduled maintenance is in progress."),
        page.index("Maintenance is scheduled from"),
    )
    assert extended < started < scheduled
    assert '<strong class="update-status">Extended</strong>' in page
    assert '<time datetime="2030-03-05T16:00:00+00:00">5 Mar 2030, 16:00 UTC</time>' in page  # the new end
    assert "Orders are <strong>paused</strong> during the upgrade." in page
    assert "BTC-USD trading" in page


def test_a_cancelled_window_stays_viewable_and_says_it_was_cancelled(anonymous, commander, window):
    maintenance.cancel_window(window=window, by=commander, message="Postponed to next quarter.",
                              now=T0 + timedelta(hours=1))  # fmt: skip

    page = text_of(anonymous, f"/maintenance/{window.code}/")

    assert "This maintenance was cancelled" in page
    assert '<span class="badge maintenance-badge-cancelled">Cancelled</span>' in page
    assert "Postponed to next quarter." in page


@pytest.mark.parametrize("code", ["MNT-1999-0001", "nope", "MNT-" + "9" * 40, "%C3%A9t%C3%A9", "..%2F..%2Fetc"])
def test_unknown_windows_are_not_found(anonymous, code):
    response = anonymous.get(f"/maintenance/{code}/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_a_nul_in_a_code_is_refused_not_an_error(anonymous):
    assert anonymous.get("/maintenance/MNT%00/").status_code in (400, 404)
    assert views._impossible("MNT\x00")


def test_the_window_page_renders_without_a_request_as_the_app_serves_it(anonymous, window):
    assert views.render_maintenance(window.code) == text_of(anonymous, f"/maintenance/{window.code}/")


def test_a_script_in_a_window_title_or_message_renders_inert(anonymous, commander, trading):
    window = schedule(commander, [trading], title='<script>alert("t")</script>',
                      description='<img src=x onerror="alert(1)"> [x](javascript:alert(2))')  # fmt: skip

    for url in ["/", f"/maintenance/{window.code}/"]:
        page = text_of(anonymous, url)
        assert "<script>" not in page
        assert "onerror" not in page
        assert "javascript:" not in page


def test_the_window_page_revalidates_with_304(anonymous, window):
    first = anonymous.get(f"/maintenance/{window.code}/")

    assert (
        anonymous.get(f"/maintenance/{window.code}/", headers={"If-None-Match": first.headers["ETag"]}).status_code
        == 304
    )


# The history.


def test_the_history_lists_the_maintenance_of_its_month(anonymous, commander, trading):
    now = timezone.now().astimezone(UTC).replace(second=0, microsecond=0)
    window = schedule(commander, [trading], now=now - timedelta(hours=3), start=now - timedelta(hours=2), hours=1)
    maintenance.tick(now=now - timedelta(hours=2))
    maintenance.tick(now=now - timedelta(hours=1))
    month = window.scheduled_for.date().replace(day=1)

    page = text_of(anonymous, f"/history/?month={month:%Y-%m}")

    assert f'<a href="/maintenance/{window.code}/">Database upgrade</a>' in page
    assert '<span class="badge maintenance-badge-completed">Completed</span>' in page
    assert "The scheduled maintenance has been completed." in page
    assert month in queries.history_months()


def test_the_history_leaves_out_cancelled_and_not_yet_started_windows(commander, window, deposits):
    other = schedule(commander, [deposits], title="Wallet migration")
    maintenance.cancel_window(window=other, by=commander, now=T0 + timedelta(hours=1))

    assert queries.maintenance_in_month(START.date()) == []


# The feeds.


@pytest.mark.parametrize("path", FEEDS)
def test_the_feeds_have_an_entry_per_maintenance_update_newest_first(anonymous, commander, window, path):
    maintenance.tick(now=START)
    maintenance.tick(now=START + timedelta(hours=2))
    updates = list(window.updates.order_by("-at", "-id"))

    entries = parse(anonymous, path).entries

    assert [entry.title for entry in entries] == [
        f"{window.code}: Database upgrade — Maintenance completed",
        f"{window.code}: Database upgrade — Maintenance verifying",
        f"{window.code}: Database upgrade — Maintenance started",
        f"{window.code}: Database upgrade — Maintenance scheduled",
    ]
    assert [entry.link for entry in entries] == [
        f"http://testserver/maintenance/{window.code}/#update-{update.pk}" for update in updates
    ]
    assert len({entry.id for entry in entries}) == len(entries)
    assert "Scheduled maintenance 2030-03-05 12:00 UTC to 2030-03-05 14:00 UTC. Affects: BTC-USD trading." in (
        entries[-1].summary
    )


@pytest.mark.parametrize("path", FEEDS)
def test_a_cancelled_window_has_an_entry_saying_so(anonymous, commander, window, path):
    maintenance.cancel_window(window=window, by=commander, now=T0 + timedelta(hours=1))

    latest = parse(anonymous, path).entries[0]

    assert latest.title == f"{window.code}: Database upgrade — Maintenance cancelled"
    assert "The scheduled maintenance has been cancelled." in latest.summary


def test_incidents_and_maintenance_mix_in_the_feed_newest_first(anonymous, commander, window):
    services.declare_incident(title="Orders time out", by=commander, message="Looking.")  # now: before 2030

    titles = [entry.title for entry in parse(anonymous, "/history.atom").entries]

    assert titles[0].startswith(f"{window.code}: ")
    assert titles[1].endswith("Orders time out — Investigating")


def test_the_feeds_change_etag_when_a_window_moves(anonymous, window):
    before = anonymous.get("/history.atom")

    maintenance.tick(now=START)

    after = anonymous.get("/history.atom", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert "Maintenance started" in after.content.decode()


# The page version.


def test_any_maintenance_move_changes_the_version(commander, window):
    seen = {queries.version().etag}

    def moved() -> bool:
        etag = queries.version().etag
        fresh = etag not in seen
        seen.add(etag)
        return fresh

    maintenance.reschedule_window(window=window, by=commander, scheduled_for=START + timedelta(hours=1),
                                  scheduled_until=START + timedelta(hours=3), now=T0)  # fmt: skip
    assert moved()
    maintenance.tick(now=START + timedelta(hours=1))
    assert moved()
    maintenance.extend_window(
        window=window, by=commander, until=START + timedelta(hours=5), now=START + timedelta(hours=2)
    )
    assert moved()
    maintenance.tick(now=START + timedelta(hours=5))
    assert moved()
    MaintenanceWindow.objects.filter(pk=window.pk).update(status="verifying")  # a status alone, no timestamp
    assert moved()


def test_an_unchanged_page_with_maintenance_is_a_304(anonymous, window):
    first = anonymous.get("/api/v2/summary.json")

    assert anonymous.get("/api/v2/summary.json", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert anonymous.get("/", headers={"If-None-Match": anonymous.get("/").headers["ETag"]}).status_code == 304
