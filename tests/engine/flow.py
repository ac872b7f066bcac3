"""A seeded order flow for journal and recovery tests: every command type, some invalid on purpose."""

from __future__ import annotations

import random

from engine.core import Amend, Cancel, CancelAll, Limit, Market, MarketConfig, SetMode

MARKETS = [
    MarketConfig("AAA-USD", band_bps=2_000, reference_price=1_000),
    MarketConfig("BBB-USD", min_qty=2, max_qty=500, band_bps=None),
]


def order_flow(count: int, seed: int = 1) -> list:
    """Return `count` commands: mostly limits around a mid, with takers, cancels, amends, modes."""
    rng = random.Random(seed)
    symbols = [market.symbol for market in MARKETS]
    commands: list = []
    for seq in range(1, count + 1):
        symbol, account, roll = rng.choice(symbols), rng.randint(1, 6), rng.random()
        side = rng.choice(("buy", "sell"))
        earlier = rng.randint(1, seq)  # an order id that may or may not still rest
        if roll < 0.55:
            price = 1_000 + rng.randint(-30, 30)
            tif = rng.choice(("gtc", "gtc", "gtc", "ioc", "fok", "post_only"))
            commands.append(Limit(symbol, account, f"c{seq}", side, price, rng.randint(1, 40), tif, "cancel_newest"))
        elif roll < 0.62:
            commands.append(Market(symbol, account, f"c{seq}", side, rng.randint(1, 60)))
        elif roll < 0.85:
            commands.append(Cancel(symbol, account, earlier))
        elif roll < 0.93:
            commands.append(Amend(symbol, account, earlier, 1_000 + rng.randint(-30, 30), rng.randint(1, 40)))
        elif roll < 0.96:
            commands.append(Limit(symbol, account, f"c{seq - 1}", side, 0, -3))  # invalid: rejected, still journaled
        elif roll < 0.98:
            commands.append(SetMode(symbol, rng.choice(("open", "open", "post_only", "cancel_only"))))
        else:
            commands.append(CancelAll(symbol, account))
    return commands
