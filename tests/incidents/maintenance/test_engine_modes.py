"""Windows drive a real engine: markets switched at the start and restored at the end through the supervisor.

These run `manage.py run_engine` (supervisor and worker) on their own shard of the test Redis,
and move windows by calling the scheduler's `tick` at the scheduled moments (real times here:
the engine's own clock is real, so the windows are scheduled around now).
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from engine.client import EngineClient
from engine.models import Market
from incidents.maintenance import health, services
from incidents.maintenance.models import MaintenanceWindow, MarketAction
from incidents.models import Component, ComponentStatus
from tests.support.engine import events, market_shard, status, supervisor, wait_for_event
from tests.support.processes import wait_for

pytestmark = [pytest.mark.timeout(180), pytest.mark.django_db(transaction=True)]

Status = MaintenanceWindow.Status


def mode_of(shard: str, symbol: str = "BTC-USD") -> str | None:
    metrics = EngineClient(shard).latest_metrics(max_age=3)
    return None if metrics is None else metrics["markets"][symbol]["mode"]


def halting_window(commander, *, minutes: int = 30) -> MaintenanceWindow:
    market = Market.objects.get(symbol="BTC-USD")
    trading = Component.objects.create(name="BTC-USD trading", market=market)
    now = timezone.now()
    return services.schedule_window(
        title="Matching engine upgrade", scheduled_for=now + timedelta(seconds=1),
        scheduled_until=now + timedelta(minutes=minutes), components=[trading], by=commander,
        actions={market: MarketAction.Action.HALTED}, now=now,
    )  # fmt: skip


def test_the_engine_is_halted_during_the_window_and_reopened_after_it(tmp_path, commander):
    shard = market_shard()
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        window = halting_window(commander)

        services.tick(now=window.scheduled_for)
        wait_for(lambda: mode_of(shard) == "halted", timeout=10, what="BTC-USD halted")
        action = MarketAction.objects.get(window=window)
        assert (action.previous_mode, action.applied_at, action.last_error) == ("open", window.scheduled_for, "")
        [switched] = events(shard, "mode_changed")
        assert switched.detail == {"symbol": "BTC-USD", "previous": "open", "mode": "halted", "cancelled": 0}
        assert window.code in switched.reason

        services.tick(now=timezone.now() + timedelta(minutes=31))
        wait_for(lambda: mode_of(shard) == "open", timeout=10, what="BTC-USD open again")
        window.refresh_from_db()
        assert window.status == Status.COMPLETED
        assert [event.detail["mode"] for event in events(shard, "mode_changed")] == ["halted", "open"]
    assert Component.objects.get().status == ComponentStatus.OPERATIONAL


def test_each_market_returns_to_the_mode_it_had_before_not_to_open(tmp_path, commander):
    shard = market_shard()
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        EngineClient(shard).set_mode("BTC-USD", "post_only", reason="thin liquidity")
        window = halting_window(commander)
        services.tick(now=window.scheduled_for)
        assert MarketAction.objects.get(window=window).previous_mode == "post_only"
        services.end_window(window=window, by=commander)
        wait_for(lambda: mode_of(shard) == "post_only", timeout=10, what="BTC-USD post-only again")
    window.refresh_from_db()
    assert window.status == Status.COMPLETED


def test_verifying_holds_while_the_engine_is_down_alerts_once_and_completes_when_it_recovers(tmp_path, commander):
    shard = market_shard()
    journal = tmp_path / "journal"
    with supervisor(tmp_path, shard, journal=journal) as process:
        wait_for_event(shard, "recovered", process=process)
        window = halting_window(commander)
        services.tick(now=window.scheduled_for)
        wait_for(lambda: mode_of(shard) == "halted", timeout=10, what="BTC-USD halted")
    # The engine is down at the end: the market cannot be reopened, nothing confirms recovery.
    wait_for(lambda: not EngineClient(shard).alive(), timeout=5, what="the heartbeat gone")
    ended = timezone.now()
    services.end_window(window=window, by=None, now=ended)
    window.refresh_from_db()
    assert window.status == Status.VERIFYING
    assert any("no fresh heartbeat" in problem for problem in window.verification_problems)
    assert any("not back to open" in problem for problem in window.verification_problems)
    assert window.verification_alerted_at is None  # within the grace

    late = ended + health.VERIFY_GRACE
    services.tick(now=late)
    services.tick(now=late + timedelta(seconds=10))
    window.refresh_from_db()
    assert (window.status, window.verification_alerted_at) == (Status.VERIFYING, late)  # alerted once
    assert window.events.filter(kind="alert").count() == 1
    assert Component.objects.get().status == ComponentStatus.UNDER_MAINTENANCE

    with supervisor(tmp_path, shard, journal=journal) as process:
        wait_for_event(shard, "recovered", 2, process=process)
        assert mode_of(shard) in ("halted", None)  # the journal kept the maintenance mode
        wait_for(lambda: services.tick()["completed"] == [window.code], timeout=20, what="the window completed")
        wait_for(lambda: mode_of(shard) == "open", timeout=10, what="BTC-USD open again")
    window.refresh_from_db()
    assert (window.status, window.verification_problems) == (Status.COMPLETED, [])
    assert Component.objects.get().status == ComponentStatus.OPERATIONAL


def test_a_crash_in_the_last_minute_holds_verification(tmp_path, commander):
    shard = market_shard()
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        window = halting_window(commander)
        services.tick(now=window.scheduled_for)
        wait_for(lambda: mode_of(shard) == "halted", timeout=10, what="BTC-USD halted")
        os.kill(status(shard)["worker_pid"], signal.SIGKILL)
        wait_for_event(shard, "recovered", 2, process=process)
        services.end_window(window=window, by=commander)
        window.refresh_from_db()
        assert window.status == Status.VERIFYING
        assert any("crashed" in problem for problem in window.verification_problems)
        # A minute later, with the engine healthy, the window completes by itself.
        services.tick(now=timezone.now() + timedelta(seconds=61))
    window.refresh_from_db()
    assert window.status == Status.COMPLETED


def test_an_engine_that_cannot_answer_at_the_start_is_tried_again_on_the_next_tick(tmp_path, commander):
    shard = market_shard()
    window = halting_window(commander)
    services.tick(now=window.scheduled_for)  # no supervisor yet
    action = MarketAction.objects.get(window=window)
    assert action.applied_at is None
    assert "no supervisor" in action.last_error
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        assert services.tick()["retried"] == [window.code]
        wait_for(lambda: mode_of(shard) == "halted", timeout=10, what="BTC-USD halted")
    assert MarketAction.objects.get(window=window).previous_mode == "open"
