"""Market modes: what each one accepts, and mode changes as commands."""

from __future__ import annotations

import pytest

from engine.core import Amend, Cancel, CancelAll, Cancelled, Code, Market, ModeChanged, SetMode, named
from tests.engine.conftest import ALICE, BOB, BTC, MAKER, buy, codes, sell

COMMANDS = {
    "a resting limit": buy(BOB, "b1", 9_980, 1),
    "a crossing limit": buy(BOB, "b1", 10_010, 1),
    "a post-only limit": buy(BOB, "b1", 9_980, 1, tif="post_only"),
    "an ioc limit": buy(BOB, "b1", 10_010, 1, tif="ioc"),
    "a fok limit": buy(BOB, "b1", 10_010, 1, tif="fok"),
    "a market order": Market(BTC, BOB, "b1", "buy", 1),
    "a cancel": Cancel(BTC, ALICE, 2),
    "a cancel-all": CancelAll(BTC, ALICE),
    "an amend": Amend(BTC, ALICE, 2, 9_985, 1),
}
ACCEPTED = None
FORBIDDEN = Code.MODE_FORBIDS
# What each mode answers to each command: None when accepted, else the rejection code.
TABLE = {
    "open": dict.fromkeys(COMMANDS, ACCEPTED),
    "post_only": {
        **dict.fromkeys(COMMANDS, ACCEPTED),
        "a crossing limit": Code.POST_ONLY_WOULD_TAKE,
        "an ioc limit": FORBIDDEN,
        "a fok limit": FORBIDDEN,
        "a market order": FORBIDDEN,
    },
    "cancel_only": {
        **dict.fromkeys(COMMANDS, FORBIDDEN),
        "a cancel": ACCEPTED,
        "a cancel-all": ACCEPTED,
    },
    "halted": dict.fromkeys(COMMANDS, FORBIDDEN),
}


@pytest.mark.parametrize(
    ("mode", "name", "expected"),
    [(mode, name, expected) for mode, answers in TABLE.items() for name, expected in answers.items()],
)
def test_each_mode_accepts_or_rejects_each_command(engine, mode, name, expected):
    engine.submit(sell(MAKER, "m1", 10_010, 5))
    engine.submit(buy(ALICE, "a1", 9_990, 5))
    engine.submit(SetMode(BTC, mode))

    events = engine.submit(COMMANDS[name])

    rejections = codes(events)
    assert rejections == ([] if expected is None else [expected])


def test_a_mode_change_is_itself_a_sequenced_command(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 5))

    events = engine.submit(SetMode(BTC, "cancel_only"))

    assert events == [ModeChanged(2, BTC, "open", "cancel_only")]
    assert engine.mode(BTC) == "cancel_only"


def test_a_mode_change_can_cancel_the_resting_orders(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 5))
    engine.submit(sell(BOB, "b1", 10_010, 2))

    events = engine.submit(SetMode(BTC, "halted", cancel_resting=True))

    assert events == [ModeChanged(3, BTC, "open", "halted"), Cancelled(3, 1, 5, "mode"), Cancelled(3, 2, 2, "mode")]


def test_a_halted_market_keeps_its_orders_for_when_it_reopens(engine):
    engine.submit(sell(MAKER, "m1", 10_010, 5))
    engine.submit(SetMode(BTC, "halted"))
    engine.submit(SetMode(BTC, "open"))

    events = engine.submit(buy(ALICE, "a1", 10_010, 1))

    assert named(events[1]).maker == 1


def test_an_unknown_mode_is_rejected(engine):
    events = engine.submit(SetMode(BTC, "closed"))

    assert codes(events) == [Code.BAD_MODE]
    assert engine.mode(BTC) == "open"
