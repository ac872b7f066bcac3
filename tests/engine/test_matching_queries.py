"""Market-data queries: best bid and ask, depth, an order's state."""

from __future__ import annotations

from engine.core import Cancel, Depth, OrderState
from tests.engine.conftest import ALICE, BOB, BTC, MAKER, buy, sell


def test_best_bid_and_ask_follow_the_book(engine):
    assert (engine.best_bid(BTC), engine.best_ask(BTC)) == (None, None)
    engine.submit(buy(ALICE, "a1", 9_990, 1))
    engine.submit(buy(BOB, "b1", 9_995, 1))
    engine.submit(sell(MAKER, "m1", 10_010, 1))

    assert (engine.best_bid(BTC), engine.best_ask(BTC)) == (9_995, 10_010)

    engine.submit(Cancel(BTC, BOB, 2))

    assert engine.best_bid(BTC) == 9_990


def test_depth_sums_each_level_and_counts_its_orders_best_first(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 1))
    engine.submit(buy(BOB, "b1", 9_990, 2))
    engine.submit(buy(BOB, "b2", 9_980, 4))
    engine.submit(buy(BOB, "b3", 9_970, 8))
    engine.submit(sell(MAKER, "m1", 10_010, 3))
    engine.submit(Cancel(BTC, ALICE, 1))

    assert engine.depth(BTC, levels=2) == Depth(BTC, bids=[(9_990, 2, 1), (9_980, 4, 1)], asks=[(10_010, 3, 1)])


def test_an_orders_state_shows_what_is_open_and_what_has_traded(engine):
    engine.submit(buy(ALICE, "a1", 10_000, 5, stp="cancel_oldest"))
    engine.submit(sell(BOB, "b1", 10_000, 2))

    assert engine.order(1) == OrderState(1, BTC, ALICE, "a1", "buy", 10_000, 3, 2, "gtc", "cancel_oldest")


def test_queries_about_unknown_things_answer_none(engine):
    assert engine.order(42) is None
    assert engine.depth("DOGE-USD") is None
    assert engine.best_bid("DOGE-USD") is None
    assert engine.mode("DOGE-USD") is None
