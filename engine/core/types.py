"""Vocabulary of the matching core: constants, market configuration and commands.

Constants are plain strings rather than enums: the hot path compares them millions of times a
second and a module-level string costs nothing to load, while an enum member is an attribute
lookup. They are also what the journal and the event stream carry.

Prices are integer ticks and quantities integer lots everywhere in the core; `codec` converts
decimal strings at the edge.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Sides.
BUY = "buy"
SELL = "sell"
SIDES = (BUY, SELL)

# Time in force of a limit order. POST_ONLY rests or is rejected; it never takes.
GTC = "gtc"
IOC = "ioc"
FOK = "fok"
POST_ONLY = "post_only"
TIFS = (GTC, IOC, FOK, POST_ONLY)

# Self-trade prevention, applied with the taker's (newest order's) instruction when it meets a
# resting order of the same account. STP_NONE lets them trade (market makers that net internally).
CANCEL_NEWEST = "cancel_newest"
CANCEL_OLDEST = "cancel_oldest"
CANCEL_BOTH = "cancel_both"
STP_NONE = "none"
STPS = (CANCEL_NEWEST, CANCEL_OLDEST, CANCEL_BOTH, STP_NONE)

# Market modes. OPEN accepts everything; POST_ONLY accepts only orders that rest (GTC or post-only
# limits that would not take) plus cancels and amends; CANCEL_ONLY accepts only cancels; HALTED
# accepts nothing but a mode change.
OPEN = "open"
MODE_POST_ONLY = "post_only"
CANCEL_ONLY = "cancel_only"
HALTED = "halted"
MODES = (OPEN, MODE_POST_ONLY, CANCEL_ONLY, HALTED)

# Why an order left the book without trading.
REASON_USER = "user"  # a Cancel or CancelAll command
REASON_IOC = "ioc"  # the unfilled rest of an IOC limit order
REASON_MARKET = "market"  # the unfilled rest of a market order (never rested)
REASON_STP = "stp"  # self-trade prevention
REASON_MODE = "mode"  # a mode change asked to cancel resting orders

MAX_CLIENT_ORDER_ID_LENGTH = 64
MAX_TICKS = 1 << 62  # keeps a price an exact machine-sized integer in every encoding downstream
BPS = 10_000  # basis points in one

_POSITIVE_DECIMAL = re.compile(r"\d+(\.\d+)?")


class MarketConfig(NamedTuple):
    """Static configuration of one market; tick and lot sizes are decimal strings for the edge.

    The price band rejects a limit price more than `band_bps` basis points away from the
    reference price: the market's last trade price, or `reference_price` (ticks) before the first
    trade. With neither (or `band_bps` None) no band applies. `min_qty` and `max_qty` are in lots.
    """

    symbol: str
    tick_size: str = "0.01"
    lot_size: str = "0.001"
    min_qty: int = 1
    max_qty: int = 1_000_000_000
    band_bps: int | None = 1_000
    reference_price: int | None = None
    mode: str = OPEN

    def problems(self) -> list[str]:
        """Return what is wrong with this configuration (empty when it is usable)."""
        found = []
        if not isinstance(self.symbol, str) or not self.symbol:
            found.append("symbol must be a non-empty string")
        for name, size in (("tick_size", self.tick_size), ("lot_size", self.lot_size)):
            if not isinstance(size, str) or not _POSITIVE_DECIMAL.fullmatch(size) or not size.strip("0."):
                found.append(f"{name} must be a positive decimal string like '0.01', got {size!r}")
        if not _is_count(self.min_qty, 1) or not _is_count(self.max_qty, 1) or self.max_qty < self.min_qty:
            found.append("min_qty and max_qty must be integers with 1 <= min_qty <= max_qty")
        if self.band_bps is not None and not _is_count(self.band_bps, 1):
            found.append("band_bps must be a positive integer or None")
        if self.reference_price is not None and not _is_count(self.reference_price, 1):
            found.append("reference_price must be a positive integer number of ticks or None")
        if self.mode not in MODES:
            found.append(f"mode must be one of {', '.join(MODES)}")
        return found


CONSTANTS = {constant: constant for constant in (*MODES, *TIFS, *STPS, *SIDES)}


def canonical(value: str) -> str:
    """Return the module constant equal to `value`, so the hot path can compare by identity."""
    return CONSTANTS.get(value, value) if type(value) is str else value


def _is_count(value: object, minimum: int) -> bool:
    return type(value) is int and value >= minimum


# Commands. Named tuples: immutable (what the journal wrote is what was applied), cheap to
# unpack in the hot path and trivially encoded. Field order is part of the journal format.


class Limit(NamedTuple):
    """Place a limit order of `qty` lots at `price` ticks."""

    symbol: str
    account: int
    client_order_id: str
    side: str
    price: int
    qty: int
    tif: str = GTC
    stp: str = CANCEL_NEWEST


class Market(NamedTuple):
    """Take up to `qty` lots at any price; the unfilled rest is cancelled, never rested."""

    symbol: str
    account: int
    client_order_id: str
    side: str
    qty: int
    stp: str = CANCEL_NEWEST


class Cancel(NamedTuple):
    """Cancel one resting order of `account`."""

    symbol: str
    account: int
    order_id: int


class CancelAll(NamedTuple):
    """Cancel resting orders: a market's (`account` None), or an account's in one or every market.

    With `symbol` None the account's orders are cancelled in every market that accepts cancels;
    halted markets keep theirs.
    """

    symbol: str | None
    account: int | None = None


class Amend(NamedTuple):
    """Change a resting order to `price` and `qty` open lots; only a smaller qty keeps priority."""

    symbol: str
    account: int
    order_id: int
    price: int
    qty: int


class SetMode(NamedTuple):
    """Switch a market's mode, cancelling its resting orders first when `cancel_resting`."""

    symbol: str
    mode: str
    cancel_resting: bool = False


Command = Limit | Market | Cancel | CancelAll | Amend | SetMode


# Query results.


class Depth(NamedTuple):
    """The best levels of a market, best first, as (price, open qty, number of orders)."""

    symbol: str
    bids: list[tuple[int, int, int]]
    asks: list[tuple[int, int, int]]


class OrderState(NamedTuple):
    """A resting order as the book holds it now."""

    order_id: int
    symbol: str
    account: int
    client_order_id: str
    side: str
    price: int
    qty: int  # open lots
    filled: int  # lots traded so far
    tif: str
    stp: str
