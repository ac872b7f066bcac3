"""Advance notices go out once each, whatever runs the scheduler; halting a market in its busiest hour is warned."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from engine.models import HealthMinute
from incidents import publishing
from incidents.maintenance import services
from incidents.maintenance.models import MaintenanceWindow, MarketAction, Notice
from incidents.maintenance.tasks import LOCK_KEY, tick_task
from tests.incidents.maintenance.conftest import T0, schedule


@pytest.fixture
def announced(db):
    """The public changes the services announce, in order (kind, notice id)."""
    seen = []

    def listener(change):
        seen.append((change.kind, change.notice_id))

    publishing.listen(listener)
    yield seen
    publishing.forget(listener)


def reminders(announced) -> list[int]:
    ids = [notice_id for kind, notice_id in announced if kind == "maintenance_reminder"]
    return [Notice.objects.get(pk=pk).hours_before for pk in ids]


def run_ticks(moments, *, nodes: int = 2) -> None:
    """Run the scheduler at each moment, as `nodes` beat nodes would (each calls it)."""
    for moment in moments:
        for _ in range(nodes):
            services.tick(now=moment)


def test_each_advance_notice_goes_out_once_at_its_time(
    commander, trading, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(commander, [trading], start=T0 + timedelta(days=4))
    start = window.scheduled_for
    moments = []
    for hours in (72, 24, 1):
        due = start - timedelta(hours=hours)
        moments += [due - timedelta(seconds=10), due, due + timedelta(seconds=10), due + timedelta(minutes=30)]
    with django_capture_on_commit_callbacks(execute=True):
        run_ticks(moments)
    assert reminders(announced) == [72, 24, 1]
    assert Notice.objects.filter(window=window, skipped=False).count() == 3


def test_notices_due_before_the_window_was_announced_are_not_sent(commander, trading, announced,
                                                                  django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(commander, [trading], start=T0 + timedelta(hours=2))
        run_ticks([T0 + timedelta(minutes=m) for m in range(0, 120, 10)])
    assert reminders(announced) == [1]
    assert window.notices.count() == 1


def test_a_scheduler_that_was_down_sends_only_the_latest_missed_notice(commander, trading, announced,
                                                                       django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(commander, [trading], start=T0 + timedelta(days=4))
        # Down from before the 72 h notice until after the 24 h one.
        run_ticks([window.scheduled_for - timedelta(hours=20)])
    assert reminders(announced) == [24]
    assert sorted(window.notices.values_list("hours_before", "skipped")) == [(24, False), (72, True)]


def test_a_rescheduled_window_is_announced_again_and_its_notices_count_from_the_new_start(
    commander, trading, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(commander, [trading], start=T0 + timedelta(days=4))
        run_ticks([window.scheduled_for - timedelta(hours=72)])
        later = window.scheduled_for + timedelta(days=7)
        moved_at = T0 + timedelta(days=2)
        services.reschedule_window(window=window, by=commander, scheduled_for=later,
                                   scheduled_until=later + timedelta(hours=2), now=moved_at)  # fmt: skip
        run_ticks([later - timedelta(hours=72), later - timedelta(hours=24), later - timedelta(hours=1)])
    assert reminders(announced) == [72, 72, 24, 1]
    assert [kind for kind, _ in announced if kind != "maintenance_reminder"] == [
        "maintenance_scheduled", "maintenance_rescheduled"
    ]  # fmt: skip


def test_a_cancelled_window_sends_no_more_notices(commander, trading, announced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        window = schedule(commander, [trading], start=T0 + timedelta(days=4))
        services.cancel_window(window=window, by=commander, now=T0)
        run_ticks([window.scheduled_for - timedelta(hours=hours) for hours in (72, 24, 1)])
    assert reminders(announced) == []


def test_notice_hours_are_configurable_and_checked(commander, trading):
    window = schedule(commander, [trading], notice_hours=["2", 12, 12])
    assert window.notice_hours == [12, 2]
    for bad in (["soon"], [0], [24 * 31]):
        with pytest.raises(services.ValidationError) as refused:
            schedule(commander, [trading], start=T0 + timedelta(days=9), notice_hours=bad)
        assert "notice_hours" in refused.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_the_same_moment_start_a_window_once(commander, trading):
    # SQLite serializes writers, so there the two nodes run one after the other; on PostgreSQL (the
    # CI pass) they race from a barrier.
    together = connection.vendor != "sqlite"
    window = schedule(commander, [trading])
    results, barrier = [], threading.Barrier(2)

    def node():
        barrier.wait()
        try:
            results.append(services.tick(now=window.scheduled_for)["started"])
        finally:
            connection.close()

    if not together:
        barrier = threading.Barrier(1)
    threads = [threading.Thread(target=node) for _ in range(2)]
    for thread in threads:
        thread.start()
        if not together:
            thread.join()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [window.code]]
    assert window.updates.filter(kind="started").count() == 1


def test_the_beat_task_skips_while_another_tick_holds_the_lock(db, settings):
    from engine.client import connection as redis_connection

    lock = redis_connection(settings.REDIS_URL).lock(LOCK_KEY, timeout=10)
    assert lock.acquire(blocking=False)
    try:
        assert tick_task() is None
    finally:
        lock.release()
    assert tick_task() == {"noticed": [], "started": [], "ended": [], "completed": [], "retried": []}


# -- capacity-aware scheduling ------------------------------------------------------------------------


def busy_history(shard: str, *, busiest_at, per_minute: int = 5_000) -> None:
    """Seven days of quiet minutes (100 orders each) with one busy hour at `busiest_at`."""
    rows = []
    for minute in range(0, 7 * 24 * 60, 10):
        at = T0 - timedelta(days=7) + timedelta(minutes=minute)
        busy = busiest_at <= at < busiest_at + timedelta(hours=1)
        rows.append(HealthMinute(shard=shard, minute=at, samples=60, commands=per_minute if busy else 100, trades=0,
                                 rejected=0, commands_per_s_max=1.0, queue_depth_max=0, rss_bytes_max=0,
                                 cpu_percent_max=0.0))  # fmt: skip
    HealthMinute.objects.bulk_create(rows)


def test_halting_a_market_in_the_busiest_hour_of_the_week_is_warned_with_the_figure(btc):
    busiest = T0 - timedelta(days=2) + timedelta(hours=2)  # 14:00 UTC two days ago
    busy_history(btc.shard, busiest_at=busiest)
    start = T0 + timedelta(days=1, hours=1, minutes=30)  # 13:30 to 14:30 tomorrow
    [warning] = services.capacity_warnings(scheduled_for=start, scheduled_until=start + timedelta(hours=1),
                                           actions={btc: MarketAction.Action.HALTED}, now=T0)  # fmt: skip
    assert "BTC-USD" in warning
    assert "14:00-15:00 UTC" in warning
    assert "30,000 orders" in warning  # six 10-minute samples of 5,000


def test_no_warning_outside_the_busiest_hour_or_without_a_halt(btc):
    busy_history(btc.shard, busiest_at=T0 - timedelta(days=2) + timedelta(hours=2))
    quiet = T0 + timedelta(days=1, hours=6)
    busy = T0 + timedelta(days=1, hours=2)
    assert services.capacity_warnings(scheduled_for=quiet, scheduled_until=quiet + timedelta(hours=1),
                                      actions={btc: "halted"}, now=T0) == []  # fmt: skip
    assert services.capacity_warnings(scheduled_for=busy, scheduled_until=busy + timedelta(hours=1),
                                      actions={btc: "cancel_only"}, now=T0) == []  # fmt: skip


def test_no_warning_without_recorded_throughput(btc):
    start = T0 + timedelta(days=1)
    assert services.capacity_warnings(scheduled_for=start, scheduled_until=start + timedelta(days=2),
                                      actions={btc: "halted"}, now=T0) == []  # fmt: skip


def test_windows_driving_the_same_market_cannot_overlap(commander, trading, deposits, btc):
    first = schedule(commander, [trading], actions={btc: "halted"})
    with pytest.raises(services.ValidationError, match=first.code):
        schedule(commander, [deposits], start=first.scheduled_for, actions={btc: "cancel_only"})
    schedule(commander, [deposits], start=first.scheduled_for, actions={btc: "none"})
    assert MaintenanceWindow.objects.count() == 2
