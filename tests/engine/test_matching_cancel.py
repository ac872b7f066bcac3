"""Cancel by id and cancel-all per market, per account, and per account everywhere."""

from __future__ import annotations

from engine.core import Cancel, CancelAll, Cancelled, Code, Limit, named
from tests.engine.conftest import ALICE, BOB, BTC, ETH, MAKER, buy, codes, sell


def test_it_cancels_a_resting_order_by_id(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 5))

    events = engine.submit(Cancel(BTC, ALICE, 1))

    assert events == [Cancelled(2, 1, 5, "user")]
    assert engine.order(1) is None
    assert engine.best_bid(BTC) is None


def test_a_cancelled_order_no_longer_trades_and_the_next_one_in_line_does(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))
    engine.submit(sell(BOB, "b1", 10_010, 2))
    engine.submit(Cancel(BTC, MAKER, 1))

    events = engine.submit(buy(ALICE, "a1", 10_010, 2))

    assert named(events[1]).maker == 2


def test_it_refuses_to_cancel_another_accounts_order(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 5))

    events = engine.submit(Cancel(BTC, BOB, 1))

    assert codes(events) == [Code.UNKNOWN_ORDER]
    assert engine.order(1).qty == 5


def test_it_refuses_to_cancel_an_order_twice(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 5))
    engine.submit(Cancel(BTC, ALICE, 1))

    events = engine.submit(Cancel(BTC, ALICE, 1))

    assert codes(events) == [Code.UNKNOWN_ORDER]


def test_cancel_all_for_a_market_cancels_every_order_there_oldest_first(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 1))
    engine.submit(sell(BOB, "b1", 10_010, 2))
    engine.submit(buy(MAKER, "m1", 9_995, 3))
    engine.submit(Limit(ETH, ALICE, "e1", "buy", 500, 1))

    events = engine.submit(CancelAll(BTC))

    assert events == [Cancelled(5, 1, 1, "user"), Cancelled(5, 2, 2, "user"), Cancelled(5, 3, 3, "user")]
    assert engine.order(4) is not None


def test_cancel_all_for_an_account_leaves_other_accounts_alone(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 1))
    engine.submit(buy(BOB, "b1", 9_990, 2))
    engine.submit(sell(ALICE, "a2", 10_010, 3))

    events = engine.submit(CancelAll(BTC, ALICE))

    assert [named(event).order_id for event in events] == [1, 3]
    assert engine.order(2).qty == 2


def test_cancel_all_for_an_account_without_a_market_covers_every_market(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 1))
    engine.submit(Limit(ETH, ALICE, "e1", "buy", 500, 1))
    engine.submit(Limit(ETH, BOB, "e1", "buy", 500, 1))

    events = engine.submit(CancelAll(None, ALICE))

    assert [named(event).order_id for event in events] == [1, 2]
    assert engine.order(3) is not None


def test_cancel_all_with_neither_market_nor_account_is_rejected(engine):
    events = engine.submit(CancelAll(None, None))

    assert codes(events) == [Code.CANCEL_ALL_NEEDS_SCOPE]


def test_cancel_all_with_nothing_to_cancel_returns_no_events(engine):
    assert engine.submit(CancelAll(BTC, ALICE)) == []
