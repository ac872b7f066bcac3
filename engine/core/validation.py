"""Why a command is refused: the checks behind every `Rejected` event, in a fixed order.

The engine's hot path lets the common case through with a single expression and calls these
only when that expression fails (or for rarer commands), so they may be as slow and explicit as
clarity wants. Each `explain_*` returns the first problem found, or None when the command is
fine. The order of checks is part of the contract: market, mode, then fields as they appear.
"""

from __future__ import annotations

from .book import ACCOUNT, Book
from .events import REJECTED, Code, Event
from .types import (
    BPS,
    CANCEL_ONLY,
    FOK,
    HALTED,
    IOC,
    MAX_CLIENT_ORDER_ID_LENGTH,
    MAX_TICKS,
    MODE_POST_ONLY,
    MODES,
    OPEN,
    SIDES,
    STPS,
    TIFS,
    Amend,
    Cancel,
    CancelAll,
    Limit,
    Market,
    SetMode,
)


def reject(seq: int, code: str, reason: str) -> Event:
    """Build a Rejected event."""
    return (seq, code, reason, REJECTED)


def explain_limit(book: Book | None, command: Limit, seq: int, client_ids: dict[int, dict[str, int]]) -> Event | None:
    """Return why a limit order is refused, or None."""
    symbol, account, client_order_id, side, price, qty, tif, stp = command
    if book is None:
        return unknown_market(seq, symbol)
    if book.mode is HALTED or book.mode is CANCEL_ONLY:
        return mode_forbids(seq, book, "new orders")
    problem = (
        _order_fields(seq, account, client_order_id, side, stp)
        or _tif(seq, tif)
        or _qty(seq, book, qty)
        or _price(seq, book, price)
    )
    if problem is not None:
        return problem
    if book.mode is MODE_POST_ONLY and tif in (IOC, FOK):
        return mode_forbids(seq, book, f"{tif} orders")
    return _duplicate(seq, account, client_order_id, client_ids)


def explain_market(book: Book | None, command: Market, seq: int, client_ids: dict[int, dict[str, int]]) -> Event | None:
    """Return why a market order is refused, or None."""
    symbol, account, client_order_id, side, qty, stp = command
    if book is None:
        return unknown_market(seq, symbol)
    if book.mode is not OPEN:
        return mode_forbids(seq, book, "market orders")
    problem = _order_fields(seq, account, client_order_id, side, stp) or _qty(seq, book, qty)
    if problem is not None:
        return problem
    return _duplicate(seq, account, client_order_id, client_ids)


def explain_cancel(book: Book | None, command: Cancel, seq: int) -> Event:
    """Return why a cancel is refused (called only when the engine's quick check failed)."""
    symbol, account, order_id = command
    if book is None:
        return unknown_market(seq, symbol)
    if book.mode is HALTED:
        return mode_forbids(seq, book, "cancels")
    return _account(seq, account) or unknown_order(seq, symbol, account, order_id)


def explain_cancel_all(book: Book | None, command: CancelAll, seq: int) -> Event | None:
    """Return why a cancel-all is refused, or None."""
    symbol, account = command
    if symbol is None and account is None:
        return reject(seq, Code.CANCEL_ALL_NEEDS_SCOPE, "cancel-all needs a market, an account, or both")
    if symbol is not None:
        if book is None:
            return unknown_market(seq, symbol)
        if book.mode is HALTED:
            return mode_forbids(seq, book, "cancels")
    return None if account is None else _account(seq, account)


def explain_amend(book: Book | None, command: Amend, seq: int) -> Event | None:
    """Return why an amend is refused, or None (the order then exists and belongs to the account)."""
    symbol, account, order_id, price, qty = command
    if book is None:
        return unknown_market(seq, symbol)
    if book.mode is HALTED or book.mode is CANCEL_ONLY:
        return mode_forbids(seq, book, "amends")
    problem = _account(seq, account)
    if problem is not None:
        return problem
    record = book.orders.get(order_id) if type(order_id) is int else None
    if record is None or record[ACCOUNT] != account:
        return unknown_order(seq, symbol, account, order_id)
    return _qty(seq, book, qty) or _price(seq, book, price)


def explain_set_mode(book: Book | None, command: SetMode, seq: int) -> Event | None:
    """Return why a mode change is refused, or None."""
    symbol, mode, cancel_resting = command
    if book is None:
        return unknown_market(seq, symbol)
    if mode not in MODES:
        return reject(seq, Code.BAD_MODE, f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if type(cancel_resting) is not bool:
        return reject(seq, Code.BAD_MODE, f"cancel_resting must be True or False, got {cancel_resting!r}")
    return None


def unknown_market(seq: int, symbol: object) -> Event:
    """Refuse a command for a market the engine does not have."""
    return reject(seq, Code.UNKNOWN_MARKET, f"no market {symbol!r}")


def mode_forbids(seq: int, book: Book, what: str) -> Event:
    """Refuse a command the market's mode does not accept."""
    return reject(seq, Code.MODE_FORBIDS, f"market {book.symbol} is {book.mode}: {what} are not accepted")


def unknown_order(seq: int, symbol: str, account: object, order_id: object) -> Event:
    """Refuse a command for an order that is not resting (or belongs to someone else)."""
    return reject(seq, Code.UNKNOWN_ORDER, f"account {account!r} has no resting order {order_id!r} in {symbol}")


def duplicate(seq: int, account: int, client_order_id: str, order_id: int) -> Event:
    """Refuse an order whose client order id the account has used before."""
    return reject(
        seq,
        Code.DUPLICATE_CLIENT_ORDER_ID,
        f"account {account} already used client order id {client_order_id!r} for order {order_id}; that one stands",
    )


def would_take(seq: int, book: Book, tif: str, price: int) -> Event:
    """Refuse a post-only order (or any order in post-only mode) that would trade on arrival."""
    why = f"market {book.symbol} is in post_only mode" if book.mode is MODE_POST_ONLY else f"the order is {tif}"
    return reject(seq, Code.POST_ONLY_WOULD_TAKE, f"price {price} would trade on arrival and {why}")


def _duplicate(seq: int, account: int, client_order_id: str, client_ids: dict[int, dict[str, int]]) -> Event | None:
    first = client_ids.get(account, {}).get(client_order_id)
    if first is not None:
        return duplicate(seq, account, client_order_id, first)
    return None


def _order_fields(seq: int, account: object, client_order_id: object, side: object, stp: object) -> Event | None:
    problem = _account(seq, account)
    if problem is not None:
        return problem
    if type(client_order_id) is not str or not 0 < len(client_order_id) <= MAX_CLIENT_ORDER_ID_LENGTH:
        return reject(
            seq,
            Code.BAD_CLIENT_ORDER_ID,
            f"client order id must be 1 to {MAX_CLIENT_ORDER_ID_LENGTH} characters of text, got {client_order_id!r}",
        )
    if side not in SIDES:
        return reject(seq, Code.BAD_SIDE, f"side must be one of {', '.join(SIDES)}, got {side!r}")
    if stp not in STPS:
        return reject(seq, Code.BAD_STP, f"self-trade prevention must be one of {', '.join(STPS)}, got {stp!r}")
    return None


def _account(seq: int, account: object) -> Event | None:
    if type(account) is not int or account <= 0:
        return reject(seq, Code.BAD_ACCOUNT, f"account must be a positive integer, got {account!r}")
    return None


def _tif(seq: int, tif: object) -> Event | None:
    if tif not in TIFS:
        return reject(seq, Code.BAD_TIF, f"time in force must be one of {', '.join(TIFS)}, got {tif!r}")
    return None


def _qty(seq: int, book: Book, qty: object) -> Event | None:
    if type(qty) is not int:
        return reject(seq, Code.QTY_NOT_INTEGER, f"quantity must be a whole number of lots, got {qty!r}")
    if qty <= 0:
        return reject(seq, Code.QTY_NOT_POSITIVE, f"quantity must be positive, got {qty}")
    if qty < book.min_qty:
        return reject(seq, Code.BELOW_MIN_QTY, f"quantity {qty} is below the minimum of {book.min_qty} lots")
    if qty > book.max_qty:
        return reject(seq, Code.ABOVE_MAX_QTY, f"quantity {qty} is above the maximum of {book.max_qty} lots")
    return None


def _price(seq: int, book: Book, price: object) -> Event | None:
    if type(price) is not int:
        return reject(seq, Code.PRICE_NOT_INTEGER, f"price must be a whole number of ticks, got {price!r}")
    if price <= 0:
        return reject(seq, Code.PRICE_NOT_POSITIVE, f"price must be positive, got {price}")
    if price > MAX_TICKS:
        return reject(seq, Code.PRICE_TOO_HIGH, f"price {price} is above the engine's limit of {MAX_TICKS} ticks")
    return _band(seq, book, price)


def _band(seq: int, book: Book, price: int) -> Event | None:
    reference = book.reference_price()
    if book.band_bps is None or reference is None:
        return None
    if abs(price - reference) * BPS > book.band_bps * reference:
        return reject(
            seq,
            Code.OUTSIDE_BAND,
            f"price {price} is more than {book.band_bps / 100:g}% away from the reference price {reference}",
        )
    return None
