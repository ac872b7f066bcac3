"""Market orders take what there is and never rest."""

from __future__ import annotations

from engine.core import Accepted, Cancelled, Market, Trade
from tests.engine.conftest import ALICE, BTC, MAKER, kinds, sell


def test_a_market_order_against_a_thin_book_sweeps_it_and_cancels_the_rest(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))
    engine.submit(sell(MAKER, "m2", 10_500, 1))

    events = engine.submit(Market(BTC, ALICE, "a1", "buy", 5))

    assert events == [
        Accepted(3, 3, BTC, ALICE, "a1", "buy", None, 5),
        Trade(3, BTC, 1, 3, 10_010, 2),
        Trade(3, BTC, 2, 3, 10_500, 1),
        Cancelled(3, 3, 2, "market"),
    ]
    assert engine.best_ask(BTC) is None
    assert engine.best_bid(BTC) is None


def test_a_market_order_against_an_empty_side_is_cancelled_in_full(engine):
    events = engine.submit(Market(BTC, ALICE, "a1", "sell", 4))

    assert kinds(events) == ["accepted", "cancelled"]
    assert events[1] == Cancelled(1, 1, 4, "market")


def test_a_filled_market_order_leaves_no_trace_in_the_book(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 5))

    events = engine.submit(Market(BTC, ALICE, "a1", "buy", 3))

    assert kinds(events) == ["accepted", "trade"]
    assert engine.order(2) is None
    assert engine.order(1).qty == 2
