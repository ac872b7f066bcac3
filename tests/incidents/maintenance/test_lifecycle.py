"""Each move of a window at its time, on a controlled clock: start, end, verify, complete; extend and cancel."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from console.models import AuditEntry
from incidents.maintenance import services
from incidents.maintenance.models import MaintenanceUpdate, MaintenanceWindow
from incidents.models import ComponentStatus
from tests.incidents.maintenance.conftest import T0, schedule

Status = MaintenanceWindow.Status


def refreshed(window: MaintenanceWindow) -> MaintenanceWindow:
    window.refresh_from_db()
    return window


def kinds(window: MaintenanceWindow) -> list[str]:
    return list(MaintenanceUpdate.objects.filter(window=window).values_list("kind", flat=True))


def test_scheduling_gives_a_code_records_the_facts_and_tells_customers(window, commander):
    assert window.code == "MNT-2030-0001"
    assert window.status == Status.SCHEDULED
    assert window.notice_hours == [72, 24, 1]
    assert kinds(window) == ["scheduled"]
    assert "2030-03-05 12:00 UTC" in window.updates.get().body
    entry = AuditEntry.objects.get(action="maintenance.scheduled")
    assert entry.actor == commander
    assert entry.after["components"] == ["BTC-USD trading"]


def test_nothing_happens_before_the_start(window, trading):
    assert services.tick(now=window.scheduled_for - timedelta(seconds=1))["started"] == []
    assert refreshed(window).status == Status.SCHEDULED
    trading.refresh_from_db()
    assert trading.status == ComponentStatus.OPERATIONAL


def test_at_the_start_the_window_is_in_progress_and_its_components_under_maintenance(window, trading):
    assert services.tick(now=window.scheduled_for)["started"] == [window.code]
    window = refreshed(window)
    assert window.status == Status.IN_PROGRESS
    assert window.started_at == window.scheduled_for
    trading.refresh_from_db()
    assert trading.status == ComponentStatus.UNDER_MAINTENANCE
    assert kinds(window) == ["scheduled", "started"]
    assert services.tick(now=window.scheduled_for + timedelta(seconds=10))["started"] == []  # once


def test_at_the_end_a_window_without_engine_markets_completes_and_components_return(window, trading):
    services.tick(now=window.scheduled_for)
    done = services.tick(now=window.scheduled_until)
    assert done["ended"] == [window.code]
    assert done["completed"] == [window.code]
    window = refreshed(window)
    assert window.status == Status.COMPLETED
    assert (window.ended_at, window.completed_at) == (window.scheduled_until, window.scheduled_until)
    trading.refresh_from_db()
    assert trading.status == ComponentStatus.OPERATIONAL
    assert kinds(window) == ["scheduled", "started", "verifying", "completed"]


def test_a_window_without_automatic_start_waits_for_a_commander(commander, trading):
    window = schedule(commander, [trading], auto_start=False)
    assert services.tick(now=window.scheduled_for + timedelta(hours=1))["started"] == []
    services.start_window(window=window, by=commander, now=window.scheduled_for + timedelta(hours=1))
    assert refreshed(window).status == Status.IN_PROGRESS


def test_a_window_without_automatic_completion_runs_until_a_commander_completes_it(commander, trading):
    window = schedule(commander, [trading], auto_complete=False)
    services.tick(now=window.scheduled_for)
    assert services.tick(now=window.scheduled_until + timedelta(hours=1))["ended"] == []
    services.complete_window(window=window, by=commander, now=window.scheduled_until + timedelta(hours=1))
    assert refreshed(window).status == Status.COMPLETED


def test_a_commander_starts_early_and_it_is_recorded_as_early(window, commander):
    early = T0 + timedelta(hours=3)
    services.start_window(window=window, by=commander, now=early)
    assert refreshed(window).started_at == early
    assert AuditEntry.objects.get(action="maintenance.started").after == {"status": "in_progress", "early": True}


def test_an_extension_moves_the_end_and_the_scheduler_respects_it(window, commander):
    services.tick(now=window.scheduled_for)
    later = window.scheduled_until + timedelta(hours=1)
    services.extend_window(window=window, until=later, by=commander, now=window.scheduled_for + timedelta(minutes=5))
    assert services.tick(now=window.scheduled_until)["ended"] == []
    window = refreshed(window)
    assert window.scheduled_until == later
    assert window.sequence == 1
    assert kinds(window)[-1] == "extended"
    assert services.tick(now=later)["completed"] == [window.code]


def test_an_extension_must_move_the_end_later(window, commander):
    with pytest.raises(ValidationError) as refused:
        services.extend_window(window=window, until=window.scheduled_until, by=commander, now=T0)
    assert "scheduled_until" in refused.value.message_dict


def test_a_cancelled_window_never_starts(window, commander):
    services.cancel_window(window=window, by=commander, reason="vendor postponed", now=T0)
    assert services.tick(now=window.scheduled_for)["started"] == []
    window = refreshed(window)
    assert window.status == Status.CANCELLED
    assert kinds(window)[-1] == "cancelled"
    assert window.sequence == 1


def test_a_window_in_progress_cannot_be_cancelled(window, commander):
    services.tick(now=window.scheduled_for)
    with pytest.raises(ValidationError, match="complete it instead"):
        services.cancel_window(window=window, by=commander, now=window.scheduled_for)


def test_scheduling_in_the_past_is_refused(commander, trading):
    with pytest.raises(ValidationError) as refused:
        schedule(commander, [trading], start=T0 - timedelta(minutes=5))
    assert "in the past" in refused.value.message_dict["scheduled_for"][0]


def test_an_end_before_the_start_is_refused(commander, trading):
    with pytest.raises(ValidationError) as refused:
        schedule(commander, [trading], hours=-1)
    assert refused.value.message_dict["scheduled_until"] == ["The maintenance must end after it starts."]


def test_an_overlapping_window_on_the_same_component_is_refused_naming_the_other(window, commander, trading):
    with pytest.raises(ValidationError) as refused:
        schedule(commander, [trading], start=window.scheduled_for + timedelta(hours=1), title="Network work")
    [message] = refused.value.message_dict["scheduled_for"]
    assert window.code in message
    assert "Database upgrade" in message
    assert "BTC-USD trading" in message


def test_windows_on_other_components_or_after_each_other_do_not_overlap(window, commander, trading, deposits):
    schedule(commander, [deposits], start=window.scheduled_for)
    schedule(commander, [trading], start=window.scheduled_until)  # back to back
    assert MaintenanceWindow.objects.count() == 3


def test_a_cancelled_window_does_not_block_its_slot(window, commander, trading):
    services.cancel_window(window=window, by=commander, now=T0)
    schedule(commander, [trading], start=window.scheduled_for)


def test_a_window_needs_components_and_a_title(commander):
    with pytest.raises(ValidationError) as refused:
        schedule(commander, [], title=" ")
    assert set(refused.value.message_dict) == {"title", "components"}


def test_only_commanders_schedule_and_change_windows(window, support, viewer, trading):
    for person in (support, viewer):
        with pytest.raises(PermissionDenied):
            schedule(person, [trading], start=T0 + timedelta(days=3))
        with pytest.raises(PermissionDenied):
            services.cancel_window(window=window, by=person, now=T0)
    assert refreshed(window).status == Status.SCHEDULED


def test_bootstrap_schedules_one_demo_window_on_a_fresh_installation(db, tmp_path, monkeypatch):
    from django.core.management import call_command

    from console.management.commands import bootstrap

    monkeypatch.setattr(bootstrap, "DEMO_CREDENTIALS_FILE", tmp_path / "demo-users.txt")
    call_command("bootstrap", stdout=io.StringIO())
    call_command("bootstrap", stdout=io.StringIO())
    [window] = MaintenanceWindow.objects.all()
    assert window.status == Status.SCHEDULED
    assert [action.action for action in window.market_actions.all()] == ["cancel_only"]
