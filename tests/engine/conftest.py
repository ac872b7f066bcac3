"""Fixtures for the matching core: an engine with two markets and short helpers to drive it.

These tests need neither the database nor Redis: the core is pure.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from engine.core import REJECTED, Engine, Limit, MarketConfig

# Examples per property test: small by default so the engine suite stays under a minute;
# `HYPOTHESIS_PROFILE=engine-thorough` (or a bigger ENGINE_EXAMPLES) digs deeper before a release.
settings.register_profile(
    "engine",
    max_examples=int(os.environ.get("ENGINE_EXAMPLES", "400")),
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "engine-thorough", settings.get_profile("engine"), max_examples=2_000, stateful_step_count=150
)
ENGINE_SETTINGS = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "engine"))

BTC = "BTC-USD"
ETH = "ETH-USD"

# Personas: two traders and a market maker.
ALICE = 1
BOB = 2
MAKER = 3


def btc_config(**overrides) -> MarketConfig:
    """BTC-USD: tick 0.01, lot 0.001, 1 to 1,000 lots, 10% band around 100.00 (10,000 ticks)."""
    return MarketConfig(BTC, "0.01", "0.001", 1, 1_000, 1_000, 10_000)._replace(**overrides)


@pytest.fixture
def engine() -> Engine:
    """An engine with BTC-USD (see btc_config) and ETH-USD (no band, default limits)."""
    return Engine([btc_config(), MarketConfig(ETH, band_bps=None)])


def kinds(events: list[tuple]) -> list[str]:
    """Name the events' kinds, for assertions that read like the story they tell."""
    return [event[-1] for event in events]


def codes(events: list[tuple]) -> list[str]:
    """Return the codes of the rejections among the events."""
    return [event[1] for event in events if event[-1] == REJECTED]


def buy(account: int, client_id: str, price: int, qty: int, **options) -> Limit:
    """A BTC-USD limit buy (GTC and cancel-newest unless `options` say otherwise)."""
    return Limit(BTC, account, client_id, "buy", price, qty, **options)


def sell(account: int, client_id: str, price: int, qty: int, **options) -> Limit:
    """A BTC-USD limit sell (GTC and cancel-newest unless `options` say otherwise)."""
    return Limit(BTC, account, client_id, "sell", price, qty, **options)
