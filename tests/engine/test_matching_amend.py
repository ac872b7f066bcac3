"""Amend: a smaller quantity keeps priority; a new price or a bigger quantity loses it."""

from __future__ import annotations

from engine.core import Amend, Amended, Code, Trade, named
from tests.engine.conftest import ALICE, BOB, BTC, MAKER, buy, codes, sell


def test_reducing_quantity_keeps_priority(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 5))
    engine.submit(sell(BOB, "b1", 10_010, 5))

    assert engine.submit(Amend(BTC, MAKER, 1, 10_010, 2)) == [Amended(3, 1, 10_010, 2, True)]
    events = engine.submit(buy(ALICE, "a1", 10_010, 1))

    assert events[1] == Trade(4, BTC, 1, 4, 10_010, 1)


def test_increasing_quantity_loses_priority(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 5))
    engine.submit(sell(BOB, "b1", 10_010, 5))

    assert engine.submit(Amend(BTC, MAKER, 1, 10_010, 6)) == [Amended(3, 1, 10_010, 6, False)]
    events = engine.submit(buy(ALICE, "a1", 10_010, 1))

    assert named(events[1]).maker == 2


def test_changing_price_loses_priority_even_when_moving_back(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 5))
    engine.submit(sell(BOB, "b1", 10_010, 5))
    engine.submit(Amend(BTC, MAKER, 1, 10_011, 5))
    engine.submit(Amend(BTC, MAKER, 1, 10_010, 5))

    events = engine.submit(buy(ALICE, "a1", 10_010, 1))

    assert named(events[1]).maker == 2


def test_an_amend_to_a_crossing_price_trades_like_a_new_order(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))
    engine.submit(buy(ALICE, "a1", 10_000, 5))

    events = engine.submit(Amend(BTC, ALICE, 2, 10_010, 5))

    assert events == [Amended(3, 2, 10_010, 5, False), Trade(3, BTC, 1, 2, 10_010, 2)]
    state = engine.order(2)
    assert (state.price, state.qty, state.filled) == (10_010, 3, 2)


def test_amending_a_post_only_order_to_a_crossing_price_is_rejected_and_changes_nothing(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))
    engine.submit(buy(ALICE, "a1", 10_000, 5, tif="post_only"))

    events = engine.submit(Amend(BTC, ALICE, 2, 10_010, 5))

    assert codes(events) == [Code.POST_ONLY_WOULD_TAKE]
    assert engine.order(2).price == 10_000


def test_amending_someone_elses_order_is_rejected(engine):
    engine.submit(buy(ALICE, "a1", 10_000, 5))

    events = engine.submit(Amend(BTC, BOB, 1, 10_000, 1))

    assert codes(events) == [Code.UNKNOWN_ORDER]


def test_amend_checks_the_new_quantity_and_price_like_a_new_order(engine):
    engine.submit(buy(ALICE, "a1", 10_000, 5))

    codes = [
        named(engine.submit(Amend(BTC, ALICE, 1, 10_000, 0))[0]).code,
        named(engine.submit(Amend(BTC, ALICE, 1, 10_000, 1_001))[0]).code,
        named(engine.submit(Amend(BTC, ALICE, 1, 20_000, 1))[0]).code,
    ]

    assert codes == [Code.QTY_NOT_POSITIVE, Code.ABOVE_MAX_QTY, Code.OUTSIDE_BAND]
