"""Immediate-or-cancel and fill-or-kill limit orders."""

from __future__ import annotations

from engine.core import REJECTED, Cancelled, Code, Trade, named
from tests.engine.conftest import ALICE, BTC, MAKER, buy, kinds, sell


def test_an_ioc_order_cancels_what_it_cannot_fill(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))

    events = engine.submit(buy(ALICE, "a1", 10_010, 5, tif="ioc"))

    assert events[1:] == [Trade(2, BTC, 1, 2, 10_010, 2), Cancelled(2, 2, 3, "ioc")]
    assert engine.best_bid(BTC) is None


def test_an_ioc_order_that_finds_nothing_is_accepted_then_cancelled_in_full(engine):
    events = engine.submit(buy(ALICE, "a1", 10_000, 5, tif="ioc"))

    assert kinds(events) == ["accepted", "cancelled"]
    assert events[1] == Cancelled(1, 1, 5, "ioc")


def test_a_fok_order_fills_in_full_when_it_can(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))
    engine.submit(sell(MAKER, "m2", 10_020, 3))

    events = engine.submit(buy(ALICE, "a1", 10_020, 5, tif="fok"))

    assert kinds(events) == ["accepted", "trade", "trade"]
    assert engine.best_ask(BTC) is None


def test_a_fok_order_that_cannot_fill_in_full_is_rejected_and_trades_nothing(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))
    engine.submit(sell(MAKER, "m2", 10_030, 3))  # beyond the limit: does not count

    events = engine.submit(buy(ALICE, "a1", 10_020, 5, tif="fok"))

    assert len(events) == 1
    assert named(events[0]).code == Code.FOK_CANNOT_FILL
    assert engine.order(1).qty == 2


def test_a_fok_order_does_not_count_own_orders_that_self_trade_prevention_would_hit(engine):
    engine.submit(sell(ALICE, "a0", 10_010, 5))
    engine.submit(sell(MAKER, "m1", 10_020, 5))

    events = engine.submit(buy(ALICE, "a1", 10_020, 6, tif="fok"))

    assert events[0][-1] == REJECTED
    assert named(events[0]).code == Code.FOK_CANNOT_FILL


def test_a_fok_order_with_cancel_oldest_counts_what_lies_behind_its_own_orders(engine):
    engine.submit(sell(ALICE, "a0", 10_010, 5))
    engine.submit(sell(MAKER, "m1", 10_020, 5))

    events = engine.submit(buy(ALICE, "a1", 10_020, 5, tif="fok", stp="cancel_oldest"))

    assert events[1:] == [Cancelled(3, 1, 5, "stp"), Trade(3, BTC, 2, 3, 10_020, 5)]
