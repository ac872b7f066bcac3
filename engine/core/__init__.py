"""The pure matching core: no Django, Redis, asyncio, clock or I/O (see DESIGN.md, "The engine").

    engine = Engine([MarketConfig("BTC-USD", tick_size="0.01", lot_size="0.001", reference_price=10_000)])
    events = engine.submit(Limit("BTC-USD", account=7, client_order_id="a1", side=BUY, price=9_990, qty=5))
    events = engine.limit("BTC-USD", 7, "a2", BUY, 9_995, 5)   # the same, without a command object
    named(events[0])  # Accepted(seq=2, order_id=2, ...): events are tuples, kind last

Commands (`types`): Limit, Market, Cancel, CancelAll, Amend, SetMode. Events (`events`):
Accepted, Rejected(code, reason), Trade, Cancelled(reason), Amended, ModeChanged. Queries on the
engine: best_bid, best_ask, depth, order, mode, last_seq; `digest`, `dump` and `load` here.
Prices are ticks and quantities lots; `codec` converts decimal strings at the edge.
"""

from __future__ import annotations

from .events import (
    ACCEPTED,
    AMENDED,
    CANCELLED,
    MODE_CHANGED,
    REJECTED,
    TRADE,
    Accepted,
    Amended,
    Cancelled,
    Code,
    Event,
    ModeChanged,
    Rejected,
    Trade,
    named,
)
from .matching import Engine
from .snapshot import SnapshotError, digest, dump, load
from .types import (
    BUY,
    SELL,
    Amend,
    Cancel,
    CancelAll,
    Command,
    Depth,
    Limit,
    Market,
    MarketConfig,
    OrderState,
    SetMode,
)

__all__ = [
    "ACCEPTED",
    "AMENDED",
    "BUY",
    "CANCELLED",
    "MODE_CHANGED",
    "REJECTED",
    "SELL",
    "TRADE",
    "Accepted",
    "Amend",
    "Amended",
    "Cancel",
    "CancelAll",
    "Cancelled",
    "Code",
    "Command",
    "Depth",
    "Engine",
    "Event",
    "Limit",
    "Market",
    "MarketConfig",
    "ModeChanged",
    "OrderState",
    "Rejected",
    "SetMode",
    "SnapshotError",
    "Trade",
    "digest",
    "dump",
    "load",
    "named",
]
