"""Key figures computed from the incident and the engine's stored series, the health window, the Markdown export."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine.models import DrillResult, EngineEvent, HealthMinute, Market
from incidents.models import Component, Incident
from incidents.postmortems import figures, services

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SHARD = "pm-shard"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def market(db) -> Market:
    return Market.objects.create(symbol="ETH-USD", shard=SHARD)


@pytest.fixture
def trading(market) -> Component:
    """The affected component trades on a market of its own shard: the figures follow it there."""
    return Component.objects.create(name="ETH-USD trading", market=market)


@pytest.fixture
def timed(incident, commander):
    """The incident with fixed times: started 10:00, detected :02, acknowledged :05, mitigated :20, resolved :45."""
    Incident.objects.filter(pk=incident.pk).update(
        started_at=at(0), detected_at=at(2), acknowledged_at=at(5), mitigated_at=at(20), resolved_at=at(45)
    )
    incident.refresh_from_db()
    return services.create_postmortem(incident=incident, by=commander)


def minute(when: datetime, rejected: int, shard: str = SHARD) -> HealthMinute:
    return HealthMinute.objects.create(
        shard=shard, minute=when, samples=60, commands=6000, trades=100, rejected=rejected, commands_per_s_max=150,
        queue_depth_max=3, rss_bytes_max=10**8, cpu_percent_max=40,
    )  # fmt: skip


def event(when: datetime, kind: str, shard: str = SHARD, **detail) -> EngineEvent:
    return EngineEvent.objects.create(at=when, shard=shard, kind=kind, message=kind, detail=detail)


def test_durations_come_from_the_incidents_timestamps(timed):
    found = figures.key_figures(timed)
    assert found["duration"] == timedelta(minutes=45)
    assert found["time_to_detect"] == timedelta(minutes=2)
    assert found["time_to_acknowledge"] == timedelta(minutes=3)  # from detection
    assert found["time_to_mitigate"] == timedelta(minutes=20)
    assert found["time_to_resolve"] == timedelta(minutes=45)


def test_the_duration_follows_the_window_when_it_is_changed(timed, commander):
    services.set_window(postmortem=timed, start=at(-5), end=at(60), by=commander)
    assert figures.key_figures(timed)["duration"] == timedelta(minutes=65)


def test_orders_rejected_sum_the_minutes_of_the_window_on_the_incidents_shard(timed):
    minute(at(-2), rejected=1000)  # before the window
    minute(at(0), rejected=7)
    minute(at(30), rejected=11)
    minute(at(44), rejected=5)  # 10:44-10:45: the window's last minute
    minute(at(45), rejected=1000)  # starts when the window ends
    minute(at(10), rejected=1000, shard="another-shard")
    assert figures.key_figures(timed)["orders_rejected"] == 23


def test_orders_rejected_are_unknown_when_no_minute_was_recorded(timed):
    assert figures.key_figures(timed)["orders_rejected"] is None


def test_restarts_and_events_are_counted_in_the_window_on_the_incidents_shard(timed):
    event(at(3), EngineEvent.Kind.CRASHED)
    event(at(4), EngineEvent.Kind.RESTARTED)
    event(at(5), EngineEvent.Kind.RECOVERED)
    event(at(50), EngineEvent.Kind.RESTARTED)  # after the window
    event(at(4), EngineEvent.Kind.RESTARTED, shard="another-shard")
    found = figures.key_figures(timed)
    assert (found["engine_restarts"], found["engine_events"], found["shards"]) == (1, 3, [SHARD])


def test_no_command_is_lost_when_no_worker_failed(timed):
    event(at(10), EngineEvent.Kind.MODE_CHANGED)
    assert figures.key_figures(timed)["commands_lost"] == 0


def test_commands_lost_are_unknown_after_a_crash_nothing_measured(timed):
    event(at(3), EngineEvent.Kind.CRASHED)
    assert figures.key_figures(timed)["commands_lost"] is None


def test_commands_lost_are_what_each_recovery_measured(timed):
    event(at(3), EngineEvent.Kind.CRASHED)
    event(at(3.2), EngineEvent.Kind.RECOVERED, lost_acknowledged=0)
    event(at(7), EngineEvent.Kind.HUNG)
    event(at(7.5), EngineEvent.Kind.RECOVERED, lost_acknowledged=4)
    assert figures.key_figures(timed)["commands_lost"] == 4


def test_commands_lost_are_unknown_when_a_failure_has_no_measured_recovery(timed):
    event(at(3), EngineEvent.Kind.CRASHED)
    event(at(3.2), EngineEvent.Kind.RECOVERED, lost_acknowledged=0)
    event(at(9.9), EngineEvent.Kind.CRASHED)  # the window ended before it recovered
    assert figures.key_figures(timed)["commands_lost"] is None


def test_commands_lost_are_what_the_drills_in_the_window_measured(timed):
    event(at(3), EngineEvent.Kind.CRASHED)
    for rpo in (0, 2):
        DrillResult.objects.create(at=at(3), shard=SHARD, fault="crash", rto_seconds=0.4, rpo_orders=rpo,
                                   acknowledged=5000, passed=rpo == 0)  # fmt: skip
    assert figures.key_figures(timed)["commands_lost"] == 2


def test_an_incident_without_markets_reads_this_installations_shard(incident, commander, settings):
    Component.objects.update(market=None)
    settings.ENGINE_SHARD = "home"
    assert figures.shards(services.create_postmortem(incident=incident, by=commander)) == ["home"]


def test_the_health_window_is_the_stored_history_padded_each_side(timed):
    minute(at(-4), rejected=1)
    minute(at(20), rejected=2)
    minute(at(55), rejected=3)  # beyond the padding
    event(at(48), EngineEvent.Kind.RESTARTED)
    window = figures.health_window(timed)
    assert window["shard"] == SHARD
    assert window["since"] == at(-5).timestamp()
    assert window["until"] == at(50).timestamp()
    assert [point["rejected"] for point in window["metrics"]] == [1, 2]
    assert [item["kind"] for item in window["events"]] == ["restarted"]


def test_the_markdown_export_holds_figures_sections_timeline_and_action_items(timed, commander, viewer):
    services.edit_section(postmortem=timed, key="root_cause", body="A **full** disk on the journal host.",
                          by=commander)  # fmt: skip
    services.add_action_item(postmortem=timed, title="Alert on disk at 80%", owner=viewer, due_on=date(2026, 4, 1),
                             priority="p1", link="https://tracker.example/OPS-7", by=commander)  # fmt: skip
    text = figures.as_markdown(timed)
    assert text.startswith(f"# Post-mortem: {timed.incident.code} Orders time out\n")
    assert "| Time to acknowledge | 3 min 00 s |" in text
    assert "| Duration (window) | 45 min 00 s |" in text
    assert "| Orders rejected | unknown |" in text
    assert "## Root cause\n\nA **full** disk on the journal host.\n" in text
    assert "## What went well\n\n_Not written._" in text
    assert "(note, cora-commander): Database team paged." in text
    row = "| [Alert on disk at 80%](https://tracker.example/OPS-7) | vera-viewer | 2026-04-01 | P1 – urgent | Open |"  # noqa: RUF001
    assert row in text


@pytest.mark.parametrize(
    ("delta", "text"),
    [(timedelta(seconds=35), "35 s"), (timedelta(minutes=4, seconds=12), "4 min 12 s"),
     (timedelta(hours=1, minutes=5), "1 h 05 min"), (None, "—")],
)  # fmt: skip
def test_durations_read_as_people_write_them(delta, text):
    assert figures.duration_text(delta) == text
