"""Decimal strings become ticks and lots at the edge, or are refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core import MarketConfig
from engine.core.codec import OffGrid, lots_to_qty, price_to_ticks, qty_to_lots, ticks_to_price
from tests.engine.conftest import ENGINE_SETTINGS

MARKET = MarketConfig("BTC-USD", tick_size="0.5", lot_size="0.001")


def test_it_converts_prices_on_the_tick_grid_to_ticks():
    assert price_to_ticks(MARKET, "100.5") == 201
    assert price_to_ticks(MARKET, "100") == 200
    assert price_to_ticks(MARKET, "100.000") == 200


def test_it_converts_quantities_on_the_lot_grid_to_lots_exactly():
    assert qty_to_lots(MARKET, "0.3") == 300
    assert qty_to_lots(MARKET, "1.001") == 1001


def test_it_refuses_a_price_off_the_tick_grid_and_names_the_nearest_valid_prices():
    with pytest.raises(OffGrid) as refused:
        price_to_ticks(MARKET, "100.2")

    assert refused.value.code == "off_tick_grid"
    assert "100.0 and 100.5" in refused.value.reason


def test_it_refuses_a_quantity_off_the_lot_grid():
    with pytest.raises(OffGrid) as refused:
        qty_to_lots(MARKET, "0.0005")

    assert refused.value.code == "off_lot_grid"


@pytest.mark.parametrize("text", ["", "1e3", "-1", " 1", "1.", ".5", "NaN", "1,5", 1.5, None])
def test_it_refuses_anything_but_a_plain_decimal_string(text):
    with pytest.raises(OffGrid) as refused:
        price_to_ticks(MARKET, text)

    assert refused.value.code == "not_a_decimal"


def test_it_refuses_zero():
    with pytest.raises(OffGrid) as refused:
        qty_to_lots(MARKET, "0.000")

    assert refused.value.code == "not_positive"


def test_it_renders_ticks_and_lots_back_as_decimal_strings():
    assert ticks_to_price(MARKET, 201) == "100.5"
    assert lots_to_qty(MARKET, 300) == "0.300"
    assert ticks_to_price(MarketConfig("X", tick_size="1"), 7) == "7"


@ENGINE_SETTINGS
@given(units=st.integers(1, 10**12), tick=st.sampled_from(["1", "0.5", "0.01", "0.25", "0.00000001"]))
def test_rendering_and_parsing_round_trip(units, tick):
    market = MarketConfig("X", tick_size=tick, lot_size=tick)

    assert price_to_ticks(market, ticks_to_price(market, units)) == units
    assert qty_to_lots(market, lots_to_qty(market, units)) == units
