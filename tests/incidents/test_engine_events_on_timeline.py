"""Engine events land once on the timelines of the incidents they happened during."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from engine.models import EngineEvent, Market
from incidents import services
from incidents.evidence import record_engine_events
from incidents.models import Component, ComponentStatus, Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def btc() -> Component:
    return Component.objects.create(name="BTC-USD trading", market=Market.objects.create(symbol="BTC-USD"))


@pytest.fixture
def eth() -> Component:
    return Component.objects.create(name="ETH-USD trading", market=Market.objects.create(symbol="ETH-USD"))


def declare(commander, component: Component, *, minutes_ago: int = 10) -> Incident:
    return services.declare_incident(
        title=f"{component.name} degraded", by=commander, components={component: ComponentStatus.PARTIAL_OUTAGE},
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
    )  # fmt: skip


def event(kind: str, *, minutes_ago: float, **detail) -> EngineEvent:
    return EngineEvent.objects.create(
        kind=kind, message=f"{kind} event", detail=detail, at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def copied(incident: Incident) -> list[str]:
    return [entry.detail["engine_kind"] for entry in incident.timeline.filter(kind="engine_event")]


def test_engine_events_in_the_window_are_copied_once_at_the_time_they_happened(commander, btc):
    incident = declare(commander, btc)
    event("crashed", minutes_ago=30)  # before the impact began
    crash = event("crashed", minutes_ago=5)
    event("restarted", minutes_ago=4.9)
    assert record_engine_events() == 2
    assert record_engine_events() == 0  # the next run copies nothing twice
    assert copied(incident) == ["crashed", "restarted"]
    assert incident.timeline.get(detail__engine_event=crash.pk).at == crash.at


def test_a_market_event_goes_only_to_incidents_on_that_market(commander, btc, eth):
    on_btc, on_eth = declare(commander, btc), declare(commander, eth)
    event("mode_changed", minutes_ago=1, symbol="ETH-USD", previous="open", mode="cancel_only")
    event("hung", minutes_ago=1)  # the whole engine: every incident on its markets
    record_engine_events()
    assert copied(on_btc) == ["hung"]
    assert copied(on_eth) == ["mode_changed", "hung"]


def test_incidents_without_engine_components_and_long_resolved_ones_get_nothing(commander, btc):
    website = Component.objects.create(name="Website")
    unrelated = declare(commander, website)
    old = declare(commander, btc, minutes_ago=60)
    services.post_update(incident=old, body="Fixed.", status=Incident.Status.RESOLVED, by=commander)
    Incident.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - timedelta(minutes=30))
    event("crashed", minutes_ago=45)
    event("crashed", minutes_ago=1)  # after the resolution
    record_engine_events()
    assert copied(unrelated) == []
    assert copied(old) == []
