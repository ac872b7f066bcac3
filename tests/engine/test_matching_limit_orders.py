"""Limit orders: resting, price-time priority, trade prices, order ids."""

from __future__ import annotations

from engine.core import Accepted, Limit, Trade, named
from tests.engine.conftest import ALICE, BOB, BTC, MAKER, kinds


def test_it_rests_a_limit_order_that_does_not_cross(engine):
    events = engine.submit(Limit(BTC, ALICE, "a1", "buy", 9_990, 5))

    assert events == [Accepted(1, 1, BTC, ALICE, "a1", "buy", 9_990, 5)]
    assert engine.best_bid(BTC) == 9_990
    assert engine.best_ask(BTC) is None


def test_it_gives_each_command_the_next_sequence_number_and_new_orders_that_number_as_id(engine):
    engine.submit(Limit(BTC, ALICE, "a1", "buy", 9_990, 5))
    engine.submit(Limit(BTC, ALICE, "a1", "buy", 9_990, 5))  # a duplicate, rejected, still numbered
    events = engine.submit(Limit(BTC, ALICE, "a2", "buy", 9_991, 5))

    assert named(events[0]).seq == named(events[0]).order_id == 3
    assert engine.last_seq == 3


def test_it_fills_fifo_within_a_price_level(engine):
    engine.submit(Limit(BTC, MAKER, "m1", "sell", 10_010, 3))
    engine.submit(Limit(BTC, BOB, "b1", "sell", 10_010, 3))

    events = engine.submit(Limit(BTC, ALICE, "a1", "buy", 10_010, 4))

    assert events[1:] == [Trade(3, BTC, 1, 3, 10_010, 3), Trade(3, BTC, 2, 3, 10_010, 1)]
    assert engine.order(2).qty == 2


def test_it_prefers_the_better_price_over_the_earlier_order(engine):
    engine.submit(Limit(BTC, MAKER, "m1", "sell", 10_020, 3))
    engine.submit(Limit(BTC, BOB, "b1", "sell", 10_010, 3))

    events = engine.submit(Limit(BTC, ALICE, "a1", "buy", 10_020, 3))

    assert events[1:] == [Trade(3, BTC, 2, 3, 10_010, 3)]


def test_it_trades_at_the_resting_orders_price(engine):
    engine.submit(Limit(BTC, BOB, "b1", "buy", 10_000, 2))

    events = engine.submit(Limit(BTC, ALICE, "a1", "sell", 9_950, 2))

    assert kinds(events) == ["accepted", "trade"]
    assert named(events[1]).price == 10_000


def test_an_order_that_fills_completely_does_not_rest(engine):
    engine.submit(Limit(BTC, BOB, "b1", "buy", 10_000, 2))

    engine.submit(Limit(BTC, ALICE, "a1", "sell", 10_000, 2))

    assert engine.order(2) is None
    assert engine.best_bid(BTC) is None
    assert engine.best_ask(BTC) is None
