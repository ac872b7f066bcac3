"""Maintenance windows in the Statuspage JSON: their shape field by field in each status, and which list has them."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from incidents.maintenance import health
from incidents.maintenance import services as maintenance
from incidents.maintenance.models import MaintenanceWindow
from incidents.models import Component, ComponentGroup
from incidents.statuspage import queries, shapes
from tests.incidents.maintenance.conftest import T0, schedule

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
MILLISECONDS_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
START = T0 + timedelta(days=1)  # when `schedule` starts a window by default
LISTS = {
    "summary": "/api/v2/summary.json",
    "all": "/api/v2/scheduled-maintenances.json",
    "upcoming": "/api/v2/scheduled-maintenances/upcoming.json",
    "active": "/api/v2/scheduled-maintenances/active.json",
}


def documented(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def listed(client: Client, which: str) -> list[dict[str, Any]]:
    response = client.get(LISTS[which])
    assert response.status_code == 200
    return response.json()["scheduled_maintenances"]


def codes(client: Client, which: str) -> list[str]:
    return [window["id"] for window in listed(client, which)]


def same_fields(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        if value is not None and ours[key] is not None:
            assert type(ours[key]) is type(value), key


@pytest.fixture
def trading() -> Component:
    group = ComponentGroup.objects.create(name="Trading")
    return Component.objects.create(name="BTC-USD trading", group=group)


@pytest.fixture
def deposits() -> Component:
    return Component.objects.create(name="Deposits", description="Crypto and fiat deposits")


@pytest.fixture
def window(commander, trading, deposits) -> MaintenanceWindow:
    return schedule(commander, [trading, deposits], description="Orders are **paused** during the upgrade.")


@pytest.fixture
def held_in_verification(monkeypatch) -> None:
    """Engine health does not confirm recovery, so an ended window stays verifying."""
    monkeypatch.setattr(health, "problems", lambda window, now=None: ["engine shard main: no fresh heartbeat"])


def test_a_scheduled_window_is_upcoming_with_statuspage_fields_field_by_field(client, window, trading, deposits):
    [ours] = listed(client, "upcoming")
    same_fields(ours, documented("statuspage_scheduled_maintenances.json")["scheduled_maintenances"][0])
    [update] = window.updates.all()
    assert ours == {
        "id": window.code,
        "name": "Database upgrade",
        "status": "scheduled",
        "created_at": "2030-03-04T12:00:00.000Z",
        "updated_at": "2030-03-04T12:00:00.000Z",
        "monitoring_at": None,
        "resolved_at": None,
        "impact": "maintenance",
        "shortlink": f"http://testserver/maintenance/{window.code}/",
        "started_at": None,
        "page_id": shapes.PAGE_ID,
        "incident_updates": [{
            "id": f"maintenance-update-{update.pk}",
            "status": "scheduled",
            "body": "Maintenance is scheduled from 2030-03-05 12:00 UTC to 2030-03-05 14:00 UTC.",
            "incident_id": window.code,
            "created_at": "2030-03-04T12:00:00.000Z",
            "updated_at": "2030-03-04T12:00:00.000Z",
            "display_at": "2030-03-04T12:00:00.000Z",
            "affected_components": None,
            "deliver_notifications": True,
            "custom_tweet": None,
            "tweet_id": None,
        }],
        "components": [shapes.component(trading, position=1), shapes.component(deposits, position=2)],
        "scheduled_for": "2030-03-05T12:00:00.000Z",
        "scheduled_until": "2030-03-05T14:00:00.000Z",
    }  # fmt: skip
    assert codes(client, "active") == []


def test_a_maintenance_update_has_the_shape_of_an_incident_update(client, window):
    documented_update = documented("statuspage_summary.json")["incidents"][0]["incident_updates"][0]
    same_fields(listed(client, "upcoming")[0]["incident_updates"][0], documented_update)


def test_a_window_in_progress_is_active_with_its_updates_newest_first(client, window):
    maintenance.tick(now=START)

    [ours] = listed(client, "active")

    assert (ours["status"], ours["started_at"]) == ("in_progress", "2030-03-05T12:00:00.000Z")
    assert ours["resolved_at"] is None
    assert ours["updated_at"] == "2030-03-05T12:00:00.000Z"
    assert [update["status"] for update in ours["incident_updates"]] == ["in_progress", "scheduled"]
    assert ours["incident_updates"][0]["body"].startswith("The scheduled maintenance is in progress.")
    assert {component["status"] for component in ours["components"]} == {"under_maintenance"}
    assert codes(client, "upcoming") == []


def test_a_verifying_window_is_active_and_says_verifying(client, window, held_in_verification):
    maintenance.tick(now=START)
    maintenance.tick(now=START + timedelta(hours=2))
    assert MaintenanceWindow.objects.get().status == "verifying"

    [ours] = listed(client, "active")

    assert ours["status"] == "verifying"
    assert [update["status"] for update in ours["incident_updates"]] == ["verifying", "in_progress", "scheduled"]
    assert ours["resolved_at"] is None
    assert "heartbeat" not in json.dumps(ours)  # why verification holds is internal


def test_a_completed_window_leaves_the_open_lists_but_stays_in_scheduled_maintenances(client, window):
    maintenance.tick(now=START)
    maintenance.tick(now=START + timedelta(hours=2))

    [ours] = listed(client, "all")

    assert (ours["status"], ours["resolved_at"]) == ("completed", "2030-03-05T14:00:00.000Z")
    assert [update["status"] for update in ours["incident_updates"]] == [
        "completed", "verifying", "in_progress", "scheduled",
    ]  # fmt: skip
    assert {component["status"] for component in ours["components"]} == {"operational"}
    for which in ("summary", "upcoming", "active"):
        assert codes(client, which) == [], which


def test_a_cancelled_window_is_in_no_list(client, commander, window):
    maintenance.cancel_window(window=window, by=commander, now=T0 + timedelta(hours=1))

    for which in LISTS:
        assert codes(client, which) == [], which


def test_summary_lists_active_windows_first_then_upcoming_soonest_first(client, commander, trading, deposits):
    later = schedule(commander, [trading], start=T0 + timedelta(days=9), title="Later")
    sooner = schedule(commander, [trading], start=T0 + timedelta(days=3), title="Sooner")
    running = schedule(commander, [deposits], start=T0 + timedelta(days=5), title="Running")
    maintenance.start_window(window=running, by=commander, now=T0 + timedelta(days=2))  # early

    summary = listed(client, "summary")

    assert [window["id"] for window in summary] == [running.code, sooner.code, later.code]
    assert [window["status"] for window in summary] == ["in_progress", "scheduled", "scheduled"]
    assert codes(client, "upcoming") == [sooner.code, later.code]
    assert codes(client, "active") == [running.code]
    assert codes(client, "all") == [later.code, running.code, sooner.code]  # newest start first


def test_a_rescheduled_or_extended_window_shows_its_new_times_and_the_update_that_said_so(client, commander, window):
    maintenance.reschedule_window(
        window=window, by=commander, scheduled_for=START + timedelta(days=1),
        scheduled_until=START + timedelta(days=1, hours=3), now=T0 + timedelta(hours=1),
    )  # fmt: skip
    [ours] = listed(client, "upcoming")
    assert (ours["scheduled_for"], ours["scheduled_until"]) == ("2030-03-06T12:00:00.000Z", "2030-03-06T15:00:00.000Z")
    assert ours["incident_updates"][0]["body"].startswith("The maintenance has been rescheduled")
    assert ours["updated_at"] == "2030-03-04T13:00:00.000Z"

    maintenance.tick(now=START + timedelta(days=1))
    maintenance.extend_window(window=window, by=commander, until=START + timedelta(days=1, hours=5),
                              now=START + timedelta(days=1, hours=1))  # fmt: skip
    [ours] = listed(client, "active")
    assert ours["scheduled_until"] == "2030-03-06T17:00:00.000Z"
    assert [update["status"] for update in ours["incident_updates"]][:2] == ["in_progress", "in_progress"]


def test_windows_older_than_90_days_leave_scheduled_maintenances(client, commander, trading):
    recent = schedule(commander, [trading], now=T0, start=T0 + timedelta(hours=1))
    maintenance.tick(now=T0 + timedelta(hours=1))
    maintenance.tick(now=T0 + timedelta(hours=3))
    assert MaintenanceWindow.objects.get(pk=recent.pk).status == "completed"

    assert codes(client, "all") == [recent.code]  # T0 is in 2030: recent whatever today is
    later = T0 + timedelta(days=queries.MAINTENANCE_DAYS + 2)
    assert queries.recent_maintenance(now=later) == []


def test_every_maintenance_timestamp_is_utc_with_milliseconds(client, window):
    maintenance.tick(now=START)
    stamps = [
        value
        for ours in listed(client, "all")
        for item in [ours, *ours["incident_updates"], *ours["components"]]
        for key, value in item.items()
        if key.endswith(("_at", "_for", "_until")) and value is not None
    ]
    assert len(stamps) > 10
    assert all(MILLISECONDS_UTC.match(stamp) for stamp in stamps), stamps


def test_a_bare_window_shapes_with_the_configured_public_url(window, settings):
    ours = shapes.maintenance(window)  # no base_url: as the notifications would call it
    assert ours["shortlink"] == f"{settings.STATUS_PAGE_URL}/maintenance/{window.code}/"
    assert len(ours["incident_updates"]) == 1
