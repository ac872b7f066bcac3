"""Invalid input never raises: it comes back as Rejected with a stable code and a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core import (
    ACCEPTED,
    REJECTED,
    Amend,
    Cancel,
    CancelAll,
    Code,
    Engine,
    Limit,
    Market,
    MarketConfig,
    SetMode,
    named,
)
from engine.core.events import LAYOUTS
from tests.engine.conftest import ALICE, BOB, BTC, ENGINE_SETTINGS, MAKER, buy, codes, sell

REJECTIONS = [
    (Limit("DOGE-USD", ALICE, "a1", "buy", 10_000, 1), Code.UNKNOWN_MARKET),
    (Limit(["BTC-USD"], ALICE, "a1", "buy", 10_000, 1), Code.UNKNOWN_MARKET),
    (Limit(BTC, 0, "a1", "buy", 10_000, 1), Code.BAD_ACCOUNT),
    (Limit(BTC, "alice", "a1", "buy", 10_000, 1), Code.BAD_ACCOUNT),
    (Limit(BTC, ALICE, "", "buy", 10_000, 1), Code.BAD_CLIENT_ORDER_ID),
    (Limit(BTC, ALICE, "x" * 65, "buy", 10_000, 1), Code.BAD_CLIENT_ORDER_ID),
    (Limit(BTC, ALICE, "a1", "long", 10_000, 1), Code.BAD_SIDE),
    (Limit(BTC, ALICE, "a1", "buy", 10_000, 1, tif="day"), Code.BAD_TIF),
    (Limit(BTC, ALICE, "a1", "buy", 10_000, 1, stp="allow"), Code.BAD_STP),
    (Limit(BTC, ALICE, "a1", "buy", 10_000, 1.5), Code.QTY_NOT_INTEGER),
    (Limit(BTC, ALICE, "a1", "buy", 10_000, "1"), Code.QTY_NOT_INTEGER),
    (Limit(BTC, ALICE, "a1", "buy", 10_000, True), Code.QTY_NOT_INTEGER),
    (Limit(BTC, ALICE, "a1", "buy", 10_000, 0), Code.QTY_NOT_POSITIVE),
    (Limit(BTC, ALICE, "a1", "buy", 10_000, -3), Code.QTY_NOT_POSITIVE),
    (Limit(BTC, ALICE, "a1", "buy", 10_000, 1_001), Code.ABOVE_MAX_QTY),
    (Limit(BTC, ALICE, "a1", "buy", 100.5, 1), Code.PRICE_NOT_INTEGER),
    (Limit(BTC, ALICE, "a1", "buy", 0, 1), Code.PRICE_NOT_POSITIVE),
    (Limit(BTC, ALICE, "a1", "buy", 1 << 63, 1), Code.PRICE_TOO_HIGH),
    (Limit(BTC, ALICE, "a1", "buy", 11_001, 1), Code.OUTSIDE_BAND),
    (Limit(BTC, ALICE, "a1", "sell", 8_999, 1), Code.OUTSIDE_BAND),
    (Market(BTC, ALICE, "a1", "sell", 0), Code.QTY_NOT_POSITIVE),
    (Cancel(BTC, ALICE, 999), Code.UNKNOWN_ORDER),
    (Cancel(BTC, ALICE, "1"), Code.UNKNOWN_ORDER),
    (Cancel(BTC, -1, 1), Code.BAD_ACCOUNT),
    (CancelAll("DOGE-USD"), Code.UNKNOWN_MARKET),
    (Amend(BTC, ALICE, 999, 10_000, 1), Code.UNKNOWN_ORDER),
    (SetMode(BTC, "closed"), Code.BAD_MODE),
    ("cancel everything", Code.UNKNOWN_COMMAND),
]


@pytest.mark.parametrize(("command", "code"), REJECTIONS, ids=[code for _, code in REJECTIONS])
def test_it_rejects_invalid_commands_with_a_code_and_a_reason(engine, command, code):
    events = engine.submit(command)

    assert len(events) == 1
    rejection = named(events[0])
    assert (rejection.kind, rejection.seq, rejection.code) == (REJECTED, 1, code)
    assert len(rejection.reason) > 10


def test_a_rejected_command_changes_nothing_but_the_sequence(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 5))

    engine.submit(Limit(BTC, ALICE, "a1", "buy", 10_010, 1_001))

    assert engine.order(1).qty == 5
    assert engine.last_seq == 2


def test_it_rejects_a_duplicate_client_order_id_even_after_the_first_order_is_gone(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 5))
    engine.submit(Cancel(BTC, ALICE, 1))

    events = engine.submit(buy(ALICE, "a1", 9_990, 5))

    assert codes(events) == [Code.DUPLICATE_CLIENT_ORDER_ID]
    assert "for order 1; that one stands" in named(events[0]).reason


def test_the_same_client_order_id_is_fine_for_another_account(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 5))

    events = engine.submit(buy(BOB, "a1", 9_990, 5))

    assert events[0][-1] == ACCEPTED


def test_the_band_follows_the_last_trade_price(engine):
    engine.submit(sell(MAKER, "m1", 10_900, 1))
    engine.submit(buy(ALICE, "a1", 10_900, 1))  # last trade 10,900: the band is now 9,810..11,990

    assert engine.submit(buy(ALICE, "a2", 11_990, 1))[0][-1] == ACCEPTED
    assert named(engine.submit(buy(ALICE, "a3", 9_809, 1))[0]).code == Code.OUTSIDE_BAND


def test_the_band_includes_its_edges(engine):
    assert engine.submit(buy(ALICE, "a1", 9_000, 1))[0][-1] == ACCEPTED
    assert engine.submit(sell(ALICE, "a2", 11_000, 1))[0][-1] == ACCEPTED


def test_without_a_reference_price_no_band_applies():
    engine = Engine([MarketConfig(BTC, band_bps=1_000, reference_price=None)])

    assert engine.submit(buy(ALICE, "a1", 1, 1))[0][-1] == ACCEPTED


def test_a_minimum_quantity_is_enforced():
    engine = Engine([MarketConfig(BTC, min_qty=10)])

    assert named(engine.submit(buy(ALICE, "a1", 100, 9))[0]).code == Code.BELOW_MIN_QTY


def test_it_refuses_to_start_with_a_broken_market_configuration():
    with pytest.raises(ValueError, match="min_qty and max_qty"):
        Engine([MarketConfig(BTC, min_qty=5, max_qty=1)])
    with pytest.raises(ValueError, match="configured twice"):
        Engine([MarketConfig(BTC), MarketConfig(BTC)])
    with pytest.raises(ValueError, match="tick_size"):
        Engine([MarketConfig(BTC, tick_size="0")])


anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
)


@ENGINE_SETTINGS
@given(
    kind=st.sampled_from([Limit, Market, Cancel, CancelAll, Amend, SetMode]),
    values=st.lists(anything, min_size=8, max_size=8),
)
def test_no_input_makes_it_raise(kind, values):
    engine = Engine([MarketConfig(BTC)])
    command = kind(*values[: len(kind._fields)])

    events = engine.submit(command)

    assert events == [] or all(event[0] == 1 and event[-1] in LAYOUTS for event in events)
