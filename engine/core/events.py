"""Events returned by `Engine.submit`, and the stable codes of rejections.

An event is a plain tuple whose last item is its kind (`ACCEPTED`, `TRADE`, ...); the named
tuples below give each kind's layout. Plain tuples because building one is the cheapest thing
CPython does: a named tuple instance costs three more allocations, which measured as a quarter
of the engine's throughput (the benchmark, issue 3). So:

    kind = event[-1]                      # dispatch
    if kind is TRADE: volume += event[5]  # or name the fields: Trade._make(event).qty
    named(event)                          # the named tuple of any event
    event == Trade(3, "BTC-USD", 1, 3, 10_010, 2)   # an event equals its named tuple

Every event starts with the sequence number of the command that produced it.
"""

from __future__ import annotations

from typing import NamedTuple

ACCEPTED = "accepted"
REJECTED = "rejected"
TRADE = "trade"
CANCELLED = "cancelled"
AMENDED = "amended"
MODE_CHANGED = "mode_changed"


class Accepted(NamedTuple):
    """A new order passed validation; `order_id` is the command's sequence number."""

    seq: int
    order_id: int
    symbol: str
    account: int
    client_order_id: str
    side: str
    price: int | None  # None for a market order
    qty: int
    kind: str = ACCEPTED


class Rejected(NamedTuple):
    """A command was refused and changed nothing; `code` is stable, `reason` is for people."""

    seq: int
    code: str
    reason: str
    kind: str = REJECTED


class Trade(NamedTuple):
    """A resting (maker) order traded `qty` lots at its own `price` with an incoming (taker) one."""

    seq: int
    symbol: str
    maker: int
    taker: int
    price: int
    qty: int
    kind: str = TRADE


class Cancelled(NamedTuple):
    """An order left the book (or was never rested) with `qty` open lots, for `reason`."""

    seq: int
    order_id: int
    qty: int
    reason: str
    kind: str = CANCELLED


class Amended(NamedTuple):
    """A resting order now has `price` and `qty` open lots; `kept_priority` says if it kept its place."""

    seq: int
    order_id: int
    price: int
    qty: int
    kept_priority: bool
    kind: str = AMENDED


class ModeChanged(NamedTuple):
    """A market switched from `previous` to `mode`."""

    seq: int
    symbol: str
    previous: str
    mode: str
    kind: str = MODE_CHANGED


Event = tuple  # laid out as one of the named tuples above, kind last
LAYOUTS: dict[str, type[NamedTuple]] = {
    ACCEPTED: Accepted,
    REJECTED: Rejected,
    TRADE: Trade,
    CANCELLED: Cancelled,
    AMENDED: Amended,
    MODE_CHANGED: ModeChanged,
}


def named(event: tuple) -> Accepted | Rejected | Trade | Cancelled | Amended | ModeChanged:
    """Return the named tuple of an event (for code that reads better with field names)."""
    return LAYOUTS[event[-1]]._make(event)


class Code:
    """Stable machine codes of `Rejected` events (what clients and the journal tooling match on)."""

    UNKNOWN_COMMAND = "unknown_command"
    UNKNOWN_MARKET = "unknown_market"
    MODE_FORBIDS = "mode_forbids"
    BAD_ACCOUNT = "bad_account"
    BAD_CLIENT_ORDER_ID = "bad_client_order_id"
    BAD_SIDE = "bad_side"
    BAD_TIF = "bad_tif"
    BAD_STP = "bad_stp"
    BAD_MODE = "bad_mode"
    QTY_NOT_INTEGER = "qty_not_integer"
    QTY_NOT_POSITIVE = "qty_not_positive"
    BELOW_MIN_QTY = "below_min_qty"
    ABOVE_MAX_QTY = "above_max_qty"
    PRICE_NOT_INTEGER = "price_not_integer"
    PRICE_NOT_POSITIVE = "price_not_positive"
    PRICE_TOO_HIGH = "price_too_high"
    OUTSIDE_BAND = "outside_band"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    UNKNOWN_ORDER = "unknown_order"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    FOK_CANNOT_FILL = "fok_cannot_fill"
    CANCEL_ALL_NEEDS_SCOPE = "cancel_all_needs_scope"
