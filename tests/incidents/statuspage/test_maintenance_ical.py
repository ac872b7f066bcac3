"""/maintenance.ics parses as calendar apps parse it: one event per window, updated in place by UID and SEQUENCE."""

from __future__ import annotations

from datetime import UTC, timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from icalendar import Calendar, Event

from incidents.maintenance import services as maintenance
from incidents.maintenance.models import MaintenanceWindow
from incidents.models import Component
from incidents.statuspage import ical
from tests.incidents.maintenance.conftest import T0, schedule

pytestmark = pytest.mark.django_db

START = T0 + timedelta(days=1)  # when `schedule` starts a window by default


@pytest.fixture
def trading() -> Component:
    return Component.objects.create(name="BTC-USD trading")


@pytest.fixture
def deposits() -> Component:
    return Component.objects.create(name="Deposits")


@pytest.fixture
def window(commander, trading, deposits) -> MaintenanceWindow:
    description = "Orders are **paused** during the upgrade.\n\n- deposits wait\n- withdrawals wait"
    return schedule(commander, [trading, deposits], description=description)


def calendar(client: Client) -> Calendar:
    response = client.get("/maintenance.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def event_of(client: Client, window: MaintenanceWindow) -> Event:
    [event] = [event for event in calendar(client).events if str(event["UID"]).startswith(f"{window.code}@")]
    return event


def test_the_calendar_names_itself_and_asks_to_be_polled(client, settings):
    cal = calendar(client)

    assert str(cal["PRODID"]) == ical.PRODID
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(cal["X-WR-CALNAME"]) == f"{settings.STATUS_PAGE_NAME}: maintenance"
    assert cal.refresh_interval == timedelta(hours=1)
    assert cal["REFRESH-INTERVAL"].params["VALUE"] == "DURATION"
    assert str(cal["X-PUBLISHED-TTL"]) == "PT1H"
    assert cal.events == []


def test_a_scheduled_window_is_a_confirmed_event_with_its_times_in_utc(client, window, settings):
    event = event_of(client, window)

    assert str(event["UID"]) == f"{window.code}@{urlsplit(settings.STATUS_PAGE_URL).hostname}"
    assert event.start == START
    assert event.start.utcoffset() == timedelta(0)
    assert event.end == START + timedelta(hours=2)
    assert str(event["SUMMARY"]) == "Maintenance: Database upgrade"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["SEQUENCE"] == 0
    assert event["DTSTAMP"].dt == T0
    assert event["LAST-MODIFIED"].dt == T0
    assert event["CREATED"].dt == T0
    assert str(event["URL"]) == f"http://testserver/maintenance/{window.code}/"
    assert str(event["TRANSP"]) == "TRANSPARENT"


def test_the_description_is_plain_text_with_components_and_the_latest_update(client, window):
    description = str(event_of(client, window)["DESCRIPTION"])

    assert "Status: Scheduled." in description
    assert "Orders are paused during the upgrade.\n- deposits wait\n- withdrawals wait" in description
    assert "Affects: BTC-USD trading, Deposits." in description
    assert "Latest update (2030-03-04 12:00 UTC): Maintenance is scheduled from 2030-03-05 12:00 UTC" in description
    assert f"Details: http://testserver/maintenance/{window.code}/" in description
    assert "<" not in description


def test_a_reschedule_moves_the_event_and_bumps_its_sequence(client, commander, window):
    uid = str(event_of(client, window)["UID"])

    maintenance.reschedule_window(
        window=window, by=commander, scheduled_for=START + timedelta(days=2),
        scheduled_until=START + timedelta(days=2, hours=1), now=T0 + timedelta(hours=1),
    )  # fmt: skip
    event = event_of(client, window)

    assert str(event["UID"]) == uid
    assert event["SEQUENCE"] == 1
    assert (event.start, event.end) == (START + timedelta(days=2), START + timedelta(days=2, hours=1))
    assert event["DTSTAMP"].dt == T0 + timedelta(hours=1)
    assert "rescheduled" in str(event["DESCRIPTION"])


def test_an_extension_moves_the_end_and_bumps_the_sequence(client, commander, window):
    maintenance.tick(now=START)
    maintenance.extend_window(window=window, by=commander, until=START + timedelta(hours=5), now=START)

    event = event_of(client, window)

    assert event["SEQUENCE"] == 1
    assert event.end == START + timedelta(hours=5)
    assert "Status: In progress." in str(event["DESCRIPTION"])


def test_a_cancelled_window_stays_as_a_cancelled_event(client, commander, window):
    maintenance.cancel_window(window=window, by=commander, now=T0 + timedelta(hours=2))

    event = event_of(client, window)

    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 1
    assert str(event["SUMMARY"]) == "Cancelled: Maintenance: Database upgrade"
    assert "The scheduled maintenance has been cancelled." in str(event["DESCRIPTION"])


@pytest.mark.parametrize("moves", [1, 2])
def test_windows_in_progress_and_completed_stay_confirmed_events(client, window, moves):
    for hours in range(moves):
        maintenance.tick(now=START + timedelta(hours=2 * hours))
    event = event_of(client, window)

    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.start == START
    assert window.code in str(event["URL"])


def test_the_calendar_holds_the_last_90_days_and_everything_later(client, commander, trading, deposits):
    now = timezone.now().astimezone(UTC).replace(microsecond=0)
    old = schedule(commander, [trading], now=now - timedelta(days=120), start=now - timedelta(days=100), title="Old")
    maintenance.tick(now=now - timedelta(days=100))
    maintenance.tick(now=now - timedelta(days=100) + timedelta(hours=2))
    recent = schedule(
        commander, [trading], now=now - timedelta(days=40), start=now - timedelta(days=30), title="Recent"
    )
    maintenance.tick(now=now - timedelta(days=30))
    maintenance.tick(now=now - timedelta(days=30) + timedelta(hours=2))
    ahead = schedule(commander, [deposits], now=now, start=now + timedelta(days=200), title="Far ahead")

    uids = [str(event["UID"]).split("@")[0] for event in calendar(client).events]

    assert uids == [recent.code, ahead.code]
    assert MaintenanceWindow.objects.get(pk=old.pk).status == "completed"


def test_the_uid_does_not_depend_on_the_host_that_served_it(window, settings):
    settings.STATUS_PAGE_URL = "https://status.example.com"

    first = Calendar.from_ical(ical.calendar("http://127.0.0.1:8000")).events[0]
    second = Calendar.from_ical(ical.calendar("https://status.example.com")).events[0]

    assert str(first["UID"]) == str(second["UID"]) == f"{window.code}@status.example.com"


def test_the_same_data_gives_the_same_bytes(window):
    assert ical.calendar("https://status.example.com") == ical.calendar("https://status.example.com")


def test_an_unchanged_calendar_is_a_304_and_a_move_makes_it_new(client, window):
    first = client.get("/maintenance.ics")
    assert first["ETag"]
    assert client.get("/maintenance.ics", headers={"If-None-Match": first["ETag"]}).status_code == 304

    maintenance.tick(now=START)

    after = client.get("/maintenance.ics", headers={"If-None-Match": first["ETag"]})
    assert after.status_code == 200
    assert b"Status: In progress." in after.content


def test_only_get_and_head_are_answered(client):
    assert client.head("/maintenance.ics").status_code == 200
    assert client.post("/maintenance.ics").status_code == 405
