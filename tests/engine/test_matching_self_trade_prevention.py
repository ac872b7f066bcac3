"""Self-trade prevention: the incoming order's instruction decides what is cancelled."""

from __future__ import annotations

from engine.core import Cancelled, Trade
from tests.engine.conftest import ALICE, BTC, MAKER, buy, sell


def test_cancel_newest_is_the_default_and_cancels_the_incoming_order(engine):
    engine.submit(sell(ALICE, "a1", 10_010, 5))

    events = engine.submit(buy(ALICE, "a2", 10_010, 3))

    assert events[1:] == [Cancelled(2, 2, 3, "stp")]
    assert engine.order(1).qty == 5
    assert engine.order(2) is None


def test_trades_made_before_meeting_an_own_order_stand(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))
    engine.submit(sell(ALICE, "a1", 10_020, 5))

    events = engine.submit(buy(ALICE, "a2", 10_020, 6))

    assert events[1:] == [Trade(3, BTC, 1, 3, 10_010, 2), Cancelled(3, 3, 4, "stp")]


def test_cancel_oldest_cancels_the_resting_order_and_goes_on_matching(engine):
    engine.submit(sell(ALICE, "a1", 10_010, 2))
    engine.submit(sell(MAKER, "m1", 10_010, 5))

    events = engine.submit(buy(ALICE, "a2", 10_010, 3, stp="cancel_oldest"))

    assert events[1:] == [Cancelled(3, 1, 2, "stp"), Trade(3, BTC, 2, 3, 10_010, 3)]


def test_cancel_both_cancels_the_resting_and_the_incoming_order(engine):
    engine.submit(sell(ALICE, "a1", 10_010, 2))
    engine.submit(sell(MAKER, "m1", 10_010, 5))

    events = engine.submit(buy(ALICE, "a2", 10_010, 3, stp="cancel_both"))

    assert events[1:] == [Cancelled(3, 1, 2, "stp"), Cancelled(3, 3, 3, "stp")]
    assert engine.order(2).qty == 5


def test_stp_none_lets_an_account_trade_with_itself(engine):
    engine.submit(sell(ALICE, "a1", 10_010, 2))

    events = engine.submit(buy(ALICE, "a2", 10_010, 2, stp="none"))

    assert events[1:] == [Trade(2, BTC, 1, 2, 10_010, 2)]
