"""The core leaves no reference cycles behind, so the worker may run it with the cyclic GC off.

CPython's cyclic collector is what produces multi-millisecond pauses under order flow (see
benchmarks/engine_core.py); reference counting alone frees everything the engine drops, as long
as nothing it builds refers back to itself. This drives every kind of command, then checks that
the collector finds nothing to collect.
"""

from __future__ import annotations

import gc
import random

from engine.core import Amend, Cancel, CancelAll, Engine, Limit, Market, MarketConfig, SetMode, dump, load

SYMBOLS = ("AAA", "BBB")


def mixed_commands(count: int, seed: int) -> list[object]:
    """Orders of every type around a price of 100, cancels, amends and mode changes."""
    rng = random.Random(seed)
    commands: list[object] = []
    for index in range(1, count + 1):
        symbol, account, roll = rng.choice(SYMBOLS), rng.randint(1, 4), rng.random()
        side, price, qty = rng.choice(("buy", "sell")), rng.randint(95, 105), rng.randint(1, 9)
        if roll < 0.5:
            tif, stp = rng.choice(("gtc", "gtc", "ioc", "fok", "post_only")), rng.choice(("cancel_newest", "none"))
            commands.append(Limit(symbol, account, f"c{index}", side, price, qty, tif, stp))
        elif roll < 0.6:
            commands.append(Market(symbol, account, f"c{index}", side, qty, "cancel_oldest"))
        elif roll < 0.8:
            commands.append(Cancel(symbol, account, rng.randint(1, index)))
        elif roll < 0.95:
            commands.append(Amend(symbol, account, rng.randint(1, index), price, qty))
        elif roll < 0.98:
            commands.append(CancelAll(symbol, account))
        else:
            commands.append(SetMode(symbol, rng.choice(("open", "open", "post_only", "halted")), rng.random() < 0.3))
    return commands


def test_the_engine_leaves_nothing_for_the_cycle_collector():
    commands = mixed_commands(5_000, seed=7)
    gc.collect()
    gc.disable()
    try:
        engine = Engine([MarketConfig(symbol, band_bps=None) for symbol in SYMBOLS])
        for command in commands:
            engine.submit(command)
        load(dump(engine))
        del engine
        found = gc.collect()
    finally:
        gc.enable()

    assert found == 0
