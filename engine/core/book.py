"""One market's order book: price levels in price-time priority, matching, market-data queries.

Layout, chosen for the Python call boundary and the garbage collector rather than for elegance:

* Each side keeps a dict key -> Level and a heap of the same keys (`heapq`, C code); the key is
  the price for asks and minus the price for bids, so the best level of either side is `keys[0]`
  and one matching loop serves both. Invariant: a key is in the heap exactly once iff it is in
  the dict, and the top of the heap is always a level with live orders (empty levels further
  down may linger until they surface; they are reused if an order arrives at their price).
* An order record is an immutable tuple of ints and strings (indexes below); what changes, the
  open quantity, lives in `Book.open` (order id -> lots). The cyclic garbage collector stops
  tracking such a tuple after its first collection and never tracks a dict of ints, so however
  many orders rest, full collections stay short: lists here cost 20-30 ms pauses at 40,000
  resting orders (the benchmark, 8 symbols).
* A level is a FIFO deque of records plus a count of live ones. A record is live while
  `Book.orders` maps its id to that very tuple, so cancelling is O(1): the record leaves the
  dict and stays in the deque until it reaches the head (lazy deletion). A level whose dead
  entries pile up is compacted, so memory follows live orders. `filled` is derived: a record
  carries `base`, the lots it has traded plus those open when it was made, so filled = base - open.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from heapq import heappop, heappush

from .events import CANCELLED, TRADE
from .types import (
    BPS,
    BUY,
    CANCEL_NEWEST,
    CANCEL_OLDEST,
    MAX_TICKS,
    OPEN,
    REASON_STP,
    SELL,
    STP_NONE,
    MarketConfig,
    OrderState,
    canonical,
)

# Order record fields: (order id, account, client order id, is buy, price, base, tif, stp).
OID, ACCOUNT, CLIENT_ID, IS_BUY, PRICE, BASE, TIF, STP = range(8)


class Level:
    """The orders resting at one price, oldest first; `live` of them still in the book, `qty` open lots."""

    __slots__ = ("live", "orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[tuple] = deque()
        self.live = 0
        self.qty = 0  # kept in step with `open` so that depth costs nothing per order


class Book:
    """The resting orders of one market and the rules that match against them."""

    __slots__ = (
        "ask_keys",
        "asks",
        "band_bps",
        "bid_keys",
        "bids",
        "config",
        "high",
        "last_price",
        "low",
        "max_qty",
        "min_qty",
        "mode",
        "open",
        "orders",
        "symbol",
    )

    def __init__(self, config: MarketConfig) -> None:
        self.config = config
        self.symbol = config.symbol
        self.mode = canonical(config.mode)
        self.min_qty = config.min_qty
        self.max_qty = config.max_qty
        self.band_bps = config.band_bps
        self.last_price: int | None = None
        self.orders: dict[int, tuple] = {}
        self.open: dict[int, int] = {}
        self.bid_keys: list[int] = []
        self.bids: dict[int, Level] = {}
        self.ask_keys: list[int] = []
        self.asks: dict[int, Level] = {}
        self.low = self.high = 0
        self.update_limits()

    def reference_price(self) -> int | None:
        """Return the price the band is measured from: the last trade, else the configured one."""
        return self.config.reference_price if self.last_price is None else self.last_price

    def set_mode(self, mode: str) -> None:
        """Switch the market's mode."""
        self.mode = canonical(mode)
        self.update_limits()

    def update_limits(self) -> None:
        """Recompute the price range the engine's fast path accepts: mode, band and range in one test.

        A price p is inside the band when |p - ref| * BPS <= band * ref, that is (p being an
        integer) when |p - ref| <= band * ref // BPS. A mode other than open empties the range,
        which sends every limit order to the engine's general path.
        """
        reference = self.reference_price()
        if self.mode is not OPEN:
            self.low, self.high = 1, 0
        elif self.band_bps is None or reference is None:
            self.low, self.high = 1, MAX_TICKS
        else:
            width = self.band_bps * reference // BPS
            self.low, self.high = max(1, reference - width), min(MAX_TICKS, reference + width)

    def level_of(self, record: tuple) -> Level:
        """Return the level a resting record sits in."""
        return self.bids[-record[PRICE]] if record[IS_BUY] else self.asks[record[PRICE]]

    def rest(self, record: tuple, qty: int) -> None:
        """Put a record with `qty` open lots at the back of its price level."""
        price = record[PRICE]
        if record[IS_BUY]:
            keys, levels, key = self.bid_keys, self.bids, -price
        else:
            keys, levels, key = self.ask_keys, self.asks, price
        level = levels.get(key)
        if level is None:
            level = levels[key] = Level(price)
            heappush(keys, key)
        level.orders.append(record)
        level.live += 1
        level.qty += qty
        self.orders[record[OID]] = record
        self.open[record[OID]] = qty

    def remove(self, record: tuple) -> int:
        """Take a resting record out of the book and return its open quantity."""
        del self.orders[record[OID]]  # the record stays in its level's queue until it reaches the head
        level = self.level_of(record)
        live = level.live = level.live - 1
        open_qty = self.open.pop(record[OID])
        level.qty -= open_qty
        if not live or len(level.orders) > 2 * live + 32:
            self.tidy(level, record[IS_BUY])
        return open_qty

    def tidy(self, level: Level, is_buy: bool) -> None:
        """Free a level's dead entries after a removal: all of them, or most when they pile up."""
        if level.live:
            orders = self.orders
            level.orders = deque(entry for entry in level.orders if orders.get(entry[OID]) is entry)
            return
        level.orders.clear()
        if is_buy:
            _prune(self.bid_keys, self.bids)
        else:
            _prune(self.ask_keys, self.asks)

    def replace(self, old: tuple, new: tuple) -> None:
        """Swap a resting record for a new one in the same place of its queue (O(level size))."""
        queue = self.level_of(old).orders
        for index, entry in enumerate(queue):
            if entry is old:
                queue[index] = new
                break
        self.orders[new[OID]] = new

    def would_take(self, is_buy: bool, price: int) -> bool:
        """Tell whether a limit order at `price` would trade on arrival."""
        if is_buy:
            return bool(self.ask_keys) and self.ask_keys[0] <= price
        return bool(self.bid_keys) and self.bid_keys[0] <= -price

    def take(
        self, taker: int, account: int, is_buy: bool, qty: int, limit_key: int, stp: str, seq: int, events: list
    ) -> int:
        """Match an incoming order against the other side up to `limit_key`; return what is left.

        `limit_key` is the limit price for a buy and minus it for a sell (see the module notes).
        Trades and self-trade cancellations are appended to `events` in the order they happen.
        A taker cancelled by self-trade prevention comes back with nothing left.
        """
        if is_buy:
            keys, levels = self.ask_keys, self.asks
        else:
            keys, levels = self.bid_keys, self.bids
        orders, open_ = self.orders, self.open
        append = events.append
        symbol = self.symbol
        traded_at = None
        while qty and keys and keys[0] <= limit_key:
            level = levels[keys[0]]
            price = level.price
            queue = level.orders
            while qty:
                maker = queue[0]
                oid = maker[OID]
                if orders.get(oid) is not maker:  # cancelled or replaced earlier, dropped lazily
                    queue.popleft()
                    continue
                open_qty = open_[oid]
                if maker[ACCOUNT] == account and stp != STP_NONE:
                    if stp != CANCEL_NEWEST:  # cancel_oldest or cancel_both: the maker goes
                        queue.popleft()
                        level.live -= 1
                        level.qty -= open_qty
                        del orders[oid], open_[oid]
                        append((seq, oid, open_qty, REASON_STP, CANCELLED))
                    if stp != CANCEL_OLDEST:  # cancel_newest or cancel_both: the taker goes
                        append((seq, taker, qty, REASON_STP, CANCELLED))
                        qty = 0
                    if not level.live:
                        break
                    continue
                traded_at = price
                if open_qty <= qty:
                    qty -= open_qty
                    queue.popleft()
                    level.live -= 1
                    level.qty -= open_qty
                    del orders[oid], open_[oid]
                    append((seq, symbol, oid, taker, price, open_qty, TRADE))
                    if not level.live:
                        break
                else:
                    open_[oid] = open_qty - qty
                    level.qty -= qty
                    append((seq, symbol, oid, taker, price, qty, TRADE))
                    qty = 0
            if not level.live:
                _prune(keys, levels)
        if traded_at is not None and traded_at != self.last_price:
            self.last_price = traded_at
            if self.band_bps is not None:  # the band follows the last trade
                self.update_limits()
        return qty

    def fillable(self, account: int, is_buy: bool, qty: int, limit_key: int, stp: str) -> bool:
        """Tell whether `take` would fill `qty` in full (what a fill-or-kill order needs)."""
        keys, levels = (self.ask_keys, self.asks) if is_buy else (self.bid_keys, self.bids)
        for key in sorted(key for key in keys if key <= limit_key):
            for maker in self._live(levels[key]):
                if maker[ACCOUNT] == account and stp != STP_NONE:
                    if stp == CANCEL_OLDEST:  # the maker would be cancelled and matching go on
                        continue
                    return False  # the taker itself would be cancelled
                qty -= self.open[maker[OID]]
                if qty <= 0:
                    return True
        return False

    def best_bid(self) -> int | None:
        """Return the highest resting buy price."""
        return -self.bid_keys[0] if self.bid_keys else None

    def best_ask(self) -> int | None:
        """Return the lowest resting sell price."""
        return self.ask_keys[0] if self.ask_keys else None

    def depth(self, is_buy: bool, count: int) -> list[tuple[int, int, int]]:
        """Return up to `count` best levels of one side as (price, open qty, number of orders)."""
        levels = self.bids if is_buy else self.asks
        found = []
        for key in sorted(levels):
            if len(found) >= count:
                break
            level = levels[key]
            if level.live:
                found.append((level.price, level.qty, level.live))
        return found

    def resting(self, is_buy: bool) -> Iterator[tuple]:
        """Yield the live records of one side in priority order (best price, then oldest)."""
        levels = self.bids if is_buy else self.asks
        for key in sorted(levels):
            yield from self._live(levels[key])

    def state_of(self, record: tuple) -> OrderState:
        """Describe a resting record for callers outside the core."""
        open_qty = self.open[record[OID]]
        side = BUY if record[IS_BUY] else SELL
        oid, account, client_id, _, price, base, tif, stp = record
        return OrderState(oid, self.symbol, account, client_id, side, price, open_qty, base - open_qty, tif, stp)

    def _live(self, level: Level) -> Iterator[tuple]:
        orders = self.orders
        return (entry for entry in level.orders if orders.get(entry[OID]) is entry)


def _prune(keys: list[int], levels: dict[int, Level]) -> None:
    """Drop empty levels from the top of a side so that its best level is a live one."""
    while keys and not levels[keys[0]].live:
        levels.pop(heappop(keys)).orders.clear()
