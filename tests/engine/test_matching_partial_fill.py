"""Partial fills: across levels, the taker's remainder, the maker's remainder."""

from __future__ import annotations

from engine.core import Trade, named
from tests.engine.conftest import ALICE, BOB, BTC, MAKER, buy, kinds, sell


def test_it_fills_across_several_price_levels_best_first(engine):
    engine.submit(sell(MAKER, "m1", 10_030, 2))
    engine.submit(sell(MAKER, "m2", 10_010, 2))
    engine.submit(sell(BOB, "b1", 10_020, 2))

    events = engine.submit(buy(ALICE, "a1", 10_030, 5))

    assert events[1:] == [
        Trade(4, BTC, 2, 4, 10_010, 2),
        Trade(4, BTC, 3, 4, 10_020, 2),
        Trade(4, BTC, 1, 4, 10_030, 1),
    ]
    assert engine.order(1).qty == 1


def test_a_partly_filled_taker_rests_its_remainder_at_its_limit(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))

    events = engine.submit(buy(ALICE, "a1", 10_020, 5))

    assert kinds(events) == ["accepted", "trade"]
    state = engine.order(2)
    assert (state.price, state.qty, state.filled) == (10_020, 3, 2)
    assert (engine.best_bid(BTC), engine.best_ask(BTC)) == (10_020, None)


def test_a_partly_filled_maker_keeps_its_place_at_the_front(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 5))
    engine.submit(sell(BOB, "b1", 10_010, 5))
    engine.submit(buy(ALICE, "a1", 10_010, 2))

    events = engine.submit(buy(ALICE, "a2", 10_010, 4))

    assert events[1:] == [Trade(4, BTC, 1, 4, 10_010, 3), Trade(4, BTC, 2, 4, 10_010, 1)]
    assert engine.order(1) is None
    assert engine.order(2).filled == 1


def test_it_stops_at_the_limit_price(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))
    engine.submit(sell(MAKER, "m2", 10_050, 2))

    events = engine.submit(buy(ALICE, "a1", 10_020, 4))

    assert [named(event).price for event in events[1:]] == [10_010]
    assert (engine.best_bid(BTC), engine.best_ask(BTC)) == (10_020, 10_050)
