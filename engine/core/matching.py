"""The engine: applies commands to the books of its markets and returns what happened.

`submit(command) -> list[Event]` is deterministic (the same commands give the same events and
the same state) and never raises on bad input: it returns a `Rejected` event (events are plain
tuples, kind last: see `events`) and changes nothing. Every command, rejected or not, takes the
next sequence number; a new order's id is that number. Each command type also has a method
taking its fields (`limit`, `cancel`, ...): `submit(Limit(*fields))` and `limit(*fields)` are
the same command, and a caller that decodes fields anyway (the worker, the benchmark) saves
building a command object.

The common case, a valid GTC limit order in an open market, is checked by one boolean
expression; anything it does not let through goes to `validation.explain_limit`, which finds the
precise reason in a fixed order (or lets the order through to the general path: other TIFs, the
post-only mode). Keep the two in step: the property tests compare them against a reference model.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import validation
from .book import ACCOUNT, BASE, CLIENT_ID, IS_BUY, OID, PRICE, STP, TIF, Book
from .events import ACCEPTED, AMENDED, CANCELLED, MODE_CHANGED, Code, Event
from .types import (
    BUY,
    CANCEL_NEWEST,
    FOK,
    GTC,
    HALTED,
    IOC,
    MAX_CLIENT_ORDER_ID_LENGTH,
    MAX_TICKS,
    MODE_POST_ONLY,
    OPEN,
    POST_ONLY,
    REASON_IOC,
    REASON_MARKET,
    REASON_MODE,
    REASON_USER,
    SELL,
    STPS,
    Amend,
    Cancel,
    CancelAll,
    Depth,
    Limit,
    Market,
    MarketConfig,
    OrderState,
    SetMode,
    canonical,
)
from .validation import reject

_NO_LIMIT = MAX_TICKS + 1  # a market order's limit key: beyond any valid price on either side


class Engine:
    """The matching engine for a set of markets."""

    __slots__ = ("_books", "_client_ids", "_seq")

    def __init__(self, markets: Iterable[MarketConfig], *, seq: int = 0) -> None:
        self._books: dict[str, Book] = {}
        for config in markets:
            problems = config.problems()
            if config.symbol in self._books:
                problems.append("symbol is configured twice")
            if problems:
                raise ValueError(f"market {config.symbol!r}: {'; '.join(problems)}")
            self._books[config.symbol] = Book(config)
        # account -> {client order id: order id}, for every order ever accepted. Plain dicts of
        # strings and ints are invisible to the cyclic GC (a set is not), which keeps full
        # collections short however many orders the engine has seen.
        self._client_ids: dict[int, dict[str, int]] = {}
        self._seq = seq

    # Commands.

    def submit(self, command: object) -> list[Event]:
        """Apply one command and return its events (a Rejected event if it is invalid)."""
        handler = _HANDLERS.get(type(command))
        if handler is None:
            self._seq = seq = self._seq + 1
            return [reject(seq, Code.UNKNOWN_COMMAND, f"{type(command).__name__} is not an engine command")]
        return handler(self, *command)  # type: ignore[misc]

    def limit(
        self,
        symbol: str,
        account: int,
        client_order_id: str,
        side: str,
        price: int,
        qty: int,
        tif: str = GTC,
        stp: str = CANCEL_NEWEST,
    ) -> list[Event]:
        """Place a limit order; the plain GTC case is inlined, everything else is `_limit_general`."""
        self._seq = seq = self._seq + 1
        try:
            book = self._books.get(symbol)
        except TypeError:  # an unhashable symbol is just an unknown market
            book = None
        # One expression for the common case (constants compared by identity: canonical strings
        # from our own modules or interned by the decoder); the general path explains the rest.
        # `book.low`/`book.high` fold the mode, the band and the price range together.
        if (
            book is None
            or tif is not GTC
            or type(price) is not int
            or not book.low <= price <= book.high
            or type(qty) is not int
            or not book.min_qty <= qty <= book.max_qty
            or (side is not BUY and side is not SELL)
            or type(account) is not int
            or type(client_order_id) is not str
            or not 0 < len(client_order_id) <= MAX_CLIENT_ORDER_ID_LENGTH
            or stp not in STPS
        ):
            return self._limit_general(book, Limit(symbol, account, client_order_id, side, price, qty, tif, stp), seq)
        ids = self._client_ids.get(account)
        if ids is None:  # a new (or invalid) account: the general path checks and registers it
            return self._limit_general(book, Limit(symbol, account, client_order_id, side, price, qty, tif, stp), seq)
        if ids.setdefault(client_order_id, seq) is not seq:
            return [validation.duplicate(seq, account, client_order_id, ids[client_order_id])]
        events: list[Event] = [(seq, seq, symbol, account, client_order_id, side, price, qty, ACCEPTED)]
        if side is BUY:
            is_buy, other_side, levels, key = True, book.ask_keys, book.bids, -price
        else:
            is_buy, other_side, levels, key = False, book.bid_keys, book.asks, price
        if not other_side or other_side[0] > -key:  # nothing to match: ~3/4 of all orders
            record = (seq, account, client_order_id, is_buy, price, qty, GTC, stp)
            level = levels.get(key)
            if level is None:
                book.rest(record, qty)
            else:  # `Book.rest` inlined for its most common case
                level.orders.append(record)
                level.live += 1
                level.qty += qty
                book.orders[seq] = record
                book.open[seq] = qty
            return events
        left = book.take(seq, account, is_buy, qty, -key, stp, seq, events)
        if left:
            book.rest((seq, account, client_order_id, is_buy, price, qty, GTC, stp), left)
        return events

    def _limit_general(self, book: Book | None, command: Limit, seq: int) -> list[Event]:
        """Place a limit order that is not a plain GTC in an open market, or explain its rejection."""
        rejection = validation.explain_limit(book, command, seq, self._client_ids)
        if rejection is not None:
            return [rejection]
        symbol, account, client_order_id, side, price, qty, tif, stp = command
        tif, stp, is_buy = canonical(tif), canonical(stp), side == BUY
        limit_key = price if is_buy else -price
        if (tif is POST_ONLY or book.mode is MODE_POST_ONLY) and book.would_take(is_buy, price):
            return [validation.would_take(seq, book, tif, price)]
        if tif is FOK and not book.fillable(account, is_buy, qty, limit_key, stp):
            return [reject(seq, Code.FOK_CANNOT_FILL, f"fill-or-kill order for {qty} lots cannot be filled in full")]
        self._client_ids.setdefault(account, {})[client_order_id] = seq
        events: list[Event] = [(seq, seq, symbol, account, client_order_id, canonical(side), price, qty, ACCEPTED)]
        left = book.take(seq, account, is_buy, qty, limit_key, stp, seq, events)
        if left and tif is IOC:
            events.append((seq, seq, left, REASON_IOC, CANCELLED))
        elif left:
            book.rest((seq, account, client_order_id, is_buy, price, qty, tif, stp), left)
        return events

    def market(
        self, symbol: str, account: int, client_order_id: str, side: str, qty: int, stp: str = CANCEL_NEWEST
    ) -> list[Event]:
        """Take up to `qty` lots at any price; the unfilled rest is cancelled."""
        self._seq = seq = self._seq + 1
        try:
            book = self._books.get(symbol)
        except TypeError:
            book = None
        if (
            book is None
            or book.mode is not OPEN
            or type(qty) is not int
            or not book.min_qty <= qty <= book.max_qty
            or (side is not BUY and side is not SELL)
            or type(account) is not int
            or account <= 0
            or type(client_order_id) is not str
            or not 0 < len(client_order_id) <= MAX_CLIENT_ORDER_ID_LENGTH
            or stp not in STPS
        ):
            command = Market(symbol, account, client_order_id, side, qty, stp)
            rejection = validation.explain_market(book, command, seq, self._client_ids)
            if rejection is not None:
                return [rejection]
            side, stp = canonical(side), canonical(stp)
        ids = self._client_ids.get(account)
        if ids is None:
            ids = self._client_ids[account] = {}
        if ids.setdefault(client_order_id, seq) is not seq:
            return [validation.duplicate(seq, account, client_order_id, ids[client_order_id])]
        events: list[Event] = [(seq, seq, symbol, account, client_order_id, side, None, qty, ACCEPTED)]
        qty = book.take(seq, account, side is BUY, qty, _NO_LIMIT, stp, seq, events)
        if qty:
            events.append((seq, seq, qty, REASON_MARKET, CANCELLED))
        return events

    def cancel(self, symbol: str, account: int, order_id: int) -> list[Event]:
        """Cancel one resting order of `account`."""
        self._seq = seq = self._seq + 1
        try:
            book = self._books.get(symbol)
        except TypeError:
            book = None
        if book is None or book.mode is HALTED or type(account) is not int or account <= 0 or type(order_id) is not int:
            return [validation.explain_cancel(book, Cancel(symbol, account, order_id), seq)]
        record = book.orders.get(order_id)
        if record is None or record[ACCOUNT] != account:
            return [validation.unknown_order(seq, symbol, account, order_id)]
        # `Book.remove` inlined: cancels are a quarter of all commands.
        del book.orders[order_id]  # the record stays in its level's queue until it reaches the head
        level = book.bids[-record[PRICE]] if record[IS_BUY] else book.asks[record[PRICE]]
        live = level.live = level.live - 1
        open_qty = book.open.pop(order_id)
        level.qty -= open_qty
        if not live or len(level.orders) > 2 * live + 32:
            book.tidy(level, record[IS_BUY])
        return [(seq, order_id, open_qty, REASON_USER, CANCELLED)]

    def cancel_all(self, symbol: str | None, account: int | None = None) -> list[Event]:
        """Cancel a market's resting orders, or an account's in one market or in all of them."""
        self._seq = seq = self._seq + 1
        book = self._book(symbol)
        rejection = validation.explain_cancel_all(book, CancelAll(symbol, account), seq)
        if rejection is not None:
            return [rejection]
        books = [book] if symbol is not None else [self._books[name] for name in sorted(self._books)]
        events: list[Event] = []
        for each in books:
            if each.mode is not HALTED:
                _cancel_resting(each, account, seq, REASON_USER, events)
        return events

    def amend(self, symbol: str, account: int, order_id: int, price: int, qty: int) -> list[Event]:
        """Change a resting order's price and open qty; only a smaller qty at the same price keeps priority."""
        self._seq = seq = self._seq + 1
        book = self._book(symbol)
        rejection = validation.explain_amend(book, Amend(symbol, account, order_id, price, qty), seq)
        if rejection is not None:
            return [rejection]
        record, open_qty = book.orders[order_id], book.open[order_id]
        if price == record[PRICE] and qty <= open_qty:  # a smaller order keeps its place in the queue
            if qty < open_qty:
                book.open[order_id] = qty
                book.level_of(record).qty -= open_qty - qty
                book.replace(record, (*record[:BASE], record[BASE] - open_qty + qty, *record[BASE + 1 :]))
            return [(seq, order_id, price, qty, True, AMENDED)]
        is_buy = record[IS_BUY]
        if (record[TIF] is POST_ONLY or book.mode is MODE_POST_ONLY) and book.would_take(is_buy, price):
            return [validation.would_take(seq, book, record[TIF], price)]
        filled = record[BASE] - book.remove(record)
        events: list[Event] = [(seq, order_id, price, qty, False, AMENDED)]
        left = book.take(order_id, account, is_buy, qty, price if is_buy else -price, record[STP], seq, events)
        if left:
            book.rest(
                (order_id, account, record[CLIENT_ID], is_buy, price, filled + qty, record[TIF], record[STP]), left
            )
        return events

    def set_mode(self, symbol: str, mode: str, cancel_resting: bool = False) -> list[Event]:
        """Switch a market's mode, cancelling its resting orders first when asked."""
        self._seq = seq = self._seq + 1
        book = self._book(symbol)
        rejection = validation.explain_set_mode(book, SetMode(symbol, mode, cancel_resting), seq)
        if rejection is not None:
            return [rejection]
        previous = book.mode
        book.set_mode(mode)
        events: list[Event] = [(seq, symbol, previous, book.mode, MODE_CHANGED)]
        if cancel_resting:
            _cancel_resting(book, None, seq, REASON_MODE, events)
        return events

    def _book(self, symbol: object) -> Book | None:
        try:
            return self._books.get(symbol)  # type: ignore[arg-type]
        except TypeError:  # an unhashable symbol is just an unknown market
            return None

    # Queries.

    @property
    def last_seq(self) -> int:
        """Return the sequence number of the last command applied."""
        return self._seq

    def symbols(self) -> list[str]:
        """Return the configured markets' symbols, sorted."""
        return sorted(self._books)

    def mode(self, symbol: str) -> str | None:
        """Return a market's mode (None for an unknown market)."""
        book = self._book(symbol)
        return None if book is None else book.mode

    def best_bid(self, symbol: str) -> int | None:
        """Return a market's best bid in ticks (None when there is none)."""
        book = self._book(symbol)
        return None if book is None else book.best_bid()

    def best_ask(self, symbol: str) -> int | None:
        """Return a market's best ask in ticks (None when there is none)."""
        book = self._book(symbol)
        return None if book is None else book.best_ask()

    def last_price(self, symbol: str) -> int | None:
        """Return the price of a market's last trade in ticks (None before its first)."""
        book = self._book(symbol)
        return None if book is None else book.last_price

    def market_config(self, symbol: str) -> MarketConfig | None:
        """Return a market's configuration (None for an unknown market)."""
        book = self._book(symbol)
        return None if book is None else book.config

    def resting_orders(self, symbol: str) -> int:
        """Return how many orders rest in a market's book (0 for an unknown market)."""
        book = self._book(symbol)
        return 0 if book is None else len(book.orders)

    def depth(self, symbol: str, levels: int = 10) -> Depth | None:
        """Return the best `levels` price levels of each side as (price, qty, orders) tuples."""
        book = self._book(symbol)
        if book is None:
            return None
        return Depth(symbol, book.depth(True, levels), book.depth(False, levels))

    def order(self, order_id: int) -> OrderState | None:
        """Return a resting order's state (None once it has left the book, or if it never rested)."""
        for book in self._books.values():
            record = book.orders.get(order_id)
            if record is not None:
                return book.state_of(record)
        return None


# Command type -> the method that applies it (plain functions: bound methods kept on the engine
# would be a reference cycle, which only the cyclic GC can free).
_HANDLERS = {
    Limit: Engine.limit,
    Cancel: Engine.cancel,
    Market: Engine.market,
    Amend: Engine.amend,
    CancelAll: Engine.cancel_all,
    SetMode: Engine.set_mode,
}


def _cancel_resting(book: Book, account: int | None, seq: int, reason: str, events: list[Event]) -> None:
    """Cancel a book's resting orders (only `account`'s when given), oldest order id first."""
    records = sorted(book.orders.values(), key=lambda record: record[OID])
    for record in records:
        if account is None or record[ACCOUNT] == account:
            events.append((seq, record[OID], book.remove(record), reason, CANCELLED))
