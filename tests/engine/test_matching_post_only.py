"""Post-only orders rest or are rejected; they never take."""

from __future__ import annotations

from engine.core import ACCEPTED, Accepted, Code, named
from tests.engine.conftest import ALICE, BTC, MAKER, buy, codes, sell


def test_a_post_only_order_rests_when_it_would_not_take(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))

    events = engine.submit(buy(ALICE, "a1", 10_009, 5, tif="post_only"))

    assert events == [Accepted(2, 2, BTC, ALICE, "a1", "buy", 10_009, 5)]
    assert engine.order(2).tif == "post_only"


def test_a_post_only_order_that_would_take_is_rejected_and_the_book_is_untouched(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))

    events = engine.submit(buy(ALICE, "a1", 10_010, 5, tif="post_only"))

    assert codes(events) == [Code.POST_ONLY_WOULD_TAKE]
    assert "would trade on arrival" in named(events[0]).reason
    assert engine.order(1).qty == 2
    assert engine.best_bid(BTC) is None


def test_a_rejected_post_only_order_does_not_use_up_its_client_order_id(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 2))
    engine.submit(buy(ALICE, "a1", 10_010, 5, tif="post_only"))

    events = engine.submit(buy(ALICE, "a1", 10_000, 5, tif="post_only"))

    assert events[0][-1] == ACCEPTED
