"""Fixtures of the maintenance tests: components, a market, a window a day ahead, and a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.models import Market
from incidents.maintenance import services
from incidents.maintenance.models import MaintenanceWindow
from incidents.models import Component

# The controlled clock: tests pass `now` to the services instead of sleeping.
T0 = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def trading(db) -> Component:
    return Component.objects.create(name="BTC-USD trading")


@pytest.fixture
def deposits(db) -> Component:
    return Component.objects.create(name="Deposits")


@pytest.fixture
def btc(db) -> Market:
    return Market.objects.create(symbol="BTC-USD", shard="maintenance-test-nobody", band_bps=None)


def schedule(by, components, *, start: datetime | None = None, hours: float = 2, now: datetime = T0, **options):
    """Schedule a window starting `start` (a day after `now` by default) for `hours` hours."""
    start = start or now + timedelta(days=1)
    return services.schedule_window(
        title=options.pop("title", "Database upgrade"), scheduled_for=start,
        scheduled_until=start + timedelta(hours=hours), components=components, by=by, now=now, **options,
    )  # fmt: skip


@pytest.fixture
def window(commander, trading) -> MaintenanceWindow:
    return schedule(commander, [trading])
