# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The worker's batch path, compiled: a stream entry's commands decoded, applied and counted in C.

    payloads = apply_batch(engine, work, counters)   # the worker's `_apply`, one call per group commit
    events = apply_command(engine, kind, fields)     # what `wire.APPLY[kind](engine, *fields)` does

`engine.core` stays the pure-Python specification of the engine; this module is a second,
compiled implementation of its two hottest commands (a plain GTC limit order in an open market,
and a cancel) working on the very same state: the same `Book`, `Level`, dicts, deques and heaps,
so snapshots, queries and every other command are the core's own code. Anything off the plain
path (other commands, other time-in-force, a new account, a value the fast check does not
accept, a rejection) is handed to the core's method before anything changes, so the rules live
in one place. The property tests drive the core through both and compare every event with the
reference model (tests/engine/test_matching_properties.py).

Why: per command the Python core costs a few microseconds of bytecode, and the worker another
few around it (decoding, journal payload, counters); one call per group commit leaves Python a
loop per batch, not per order (BENCHMARKS.md, issue 4).

`replay` is recovery's loop over journal payloads, with the same two commands compiled.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_SIZE
from libc.stdint cimport int32_t, uint32_t
from libc.string cimport memcpy

from engine.little_endian cimport put32

import marshal

from engine.core import validation
from engine.core.book import _prune
from engine.core.events import ACCEPTED, CANCELLED, REJECTED, TRADE
from engine.core.matching import Engine
from engine.core.types import (
    BUY,
    CANCEL_BOTH,
    CANCEL_NEWEST,
    CANCEL_OLDEST,
    CONSTANTS,
    GTC,
    HALTED,
    MAX_CLIENT_ORDER_ID_LENGTH,
    REASON_STP,
    REASON_USER,
    SELL,
    STP_NONE,
)
from engine.core.wire import APPLY, MARSHAL_VERSION, WireError, encode_item
from engine.streams import bad_command


cdef extern from "Python.h":
    PyObject* PyDict_SetDefault(object d, object key, object default) except NULL


NOT_A_COMMAND = "a command is a list: [kind, *fields]"

cdef object _limit = Engine.limit
cdef object _cancel = Engine.cancel
cdef object _dumps = marshal.dumps
cdef object _loads = marshal.loads
cdef tuple _apply = APPLY
cdef dict _constants = CONSTANTS
cdef int _version = MARSHAL_VERSION
cdef long long _max_id_length = MAX_CLIENT_ORDER_ID_LENGTH
cdef object _one = 1


cdef inline bint _is_stp(object stp):
    return stp is CANCEL_NEWEST or stp is CANCEL_OLDEST or stp is CANCEL_BOTH or stp is STP_NONE


cdef inline bint _as_int(object value, long long* out):
    """Read an exact int into a C integer; False for any other type or one too large."""
    cdef int overflow = 0
    if type(value) is not int:
        return False
    out[0] = PyLong_AsLongLongAndOverflow(value, &overflow)
    return overflow == 0


cdef class _Market:
    """One book's containers, looked up once per call instead of once per command.

    A `Book` never replaces these containers (a snapshot builds new books), so holding them for
    the length of one call is safe; the scalars that do change (`low`, `high`, `mode`,
    `last_price`) are always read from the book itself.
    """

    cdef object book, symbol
    cdef dict orders, open_, bids, asks
    cdef list bid_keys, ask_keys
    cdef long long min_qty, max_qty

    def __cinit__(self, object book):
        self.book, self.symbol = book, book.symbol
        self.orders, self.open_, self.bids, self.asks = book.orders, book.open, book.bids, book.asks
        self.bid_keys, self.ask_keys = book.bid_keys, book.ask_keys
        self.min_qty, self.max_qty = book.min_qty, book.max_qty


cdef class _Context:
    """An engine as one call sees it: its markets' containers and its client order ids."""

    cdef object engine
    cdef dict books, client_ids, markets

    def __cinit__(self, object engine):
        self.engine, self.books, self.client_ids, self.markets = engine, engine._books, engine._client_ids, {}

    cdef _Market market(self, object symbol):
        """The market named `symbol` (a str), or None."""
        cdef PyObject* found = PyDict_GetItem(self.markets, symbol)
        if found is not NULL:
            return <_Market>found
        found = PyDict_GetItem(self.books, symbol)
        if found is NULL:
            return None
        market = _Market(<object>found)
        self.markets[symbol] = market
        return market


cdef object _take(_Market market, object taker, object account, bint is_buy, long long qty, long long limit_key,
                  object stp, object seq, list events):
    """`Book.take`, line for line: match up to `limit_key`; return the lots left (as a Python int)."""
    cdef list keys
    cdef dict levels, orders = market.orders, open_ = market.open_
    cdef long long open_qty
    cdef object level, queue, maker, oid, price_obj, open_obj, traded_at = None, symbol = market.symbol
    cdef object book = market.book
    cdef PyObject* found
    if is_buy:
        keys, levels = market.ask_keys, market.asks
    else:
        keys, levels = market.bid_keys, market.bids
    while qty and keys and <long long>keys[0] <= limit_key:
        level = levels[keys[0]]
        price_obj = level.price
        queue = level.orders
        while qty:
            maker = queue[0]
            oid = maker[0]
            found = PyDict_GetItem(orders, oid)
            if found is NULL or <object>found is not maker:  # cancelled or replaced earlier, dropped lazily
                queue.popleft()
                continue
            open_obj = open_[oid]
            open_qty = open_obj
            if maker[1] == account and stp is not STP_NONE:  # stp is canonical here (`_plain_limit`)
                if stp is not CANCEL_NEWEST:  # cancel_oldest or cancel_both: the maker goes
                    queue.popleft()
                    level.live -= 1
                    level.qty -= open_obj
                    del orders[oid], open_[oid]
                    events.append((seq, oid, open_obj, REASON_STP, CANCELLED))
                if stp is not CANCEL_OLDEST:  # cancel_newest or cancel_both: the taker goes
                    events.append((seq, taker, qty, REASON_STP, CANCELLED))
                    qty = 0
                if not level.live:
                    break
                continue
            traded_at = price_obj
            if open_qty <= qty:
                qty -= open_qty
                queue.popleft()
                level.live -= 1
                level.qty -= open_obj
                del orders[oid], open_[oid]
                events.append((seq, symbol, oid, taker, price_obj, open_obj, TRADE))
                if not level.live:
                    break
            else:
                open_[oid] = open_qty - qty
                level.qty -= qty
                events.append((seq, symbol, oid, taker, price_obj, qty, TRADE))
                qty = 0
        if not level.live:
            _prune(keys, levels)
    if traded_at is not None and traded_at != book.last_price:
        book.last_price = traded_at
        if book.band_bps is not None:  # the band follows the last trade
            book.update_limits()
    return qty


cdef list _plain_limit(_Context context, object symbol, object account, object client_order_id, object side,
                       object price, object qty, object tif, object stp):
    """`Engine.limit` for a plain GTC order in an open market; the core's own method otherwise."""
    cdef long long c_price = 0, c_qty = 0, c_account = 0, length, key
    cdef PyObject* found
    cdef _Market market
    cdef object engine = context.engine, book, ids, seq, level, record
    cdef list other_side, events
    cdef dict levels
    cdef bint is_buy
    if type(symbol) is not str or tif is not GTC or type(client_order_id) is not str:
        return _limit(engine, symbol, account, client_order_id, side, price, qty, tif, stp)
    market = context.market(symbol)
    if market is None:
        return _limit(engine, symbol, account, client_order_id, side, price, qty, tif, stp)
    book = market.book
    length = len(<str>client_order_id)
    if (
        not _as_int(price, &c_price)
        or not _as_int(qty, &c_qty)
        or not _as_int(account, &c_account)
        or not (market.min_qty <= c_qty <= market.max_qty)
        or (side is not BUY and side is not SELL)
        or not 0 < length <= _max_id_length
        or not _is_stp(stp)
        or not (<long long>book.low <= c_price <= <long long>book.high)
    ):
        return _limit(engine, symbol, account, client_order_id, side, price, qty, tif, stp)
    found = PyDict_GetItem(context.client_ids, account)
    if found is NULL:  # a new (or invalid) account: the core checks and registers it
        return _limit(engine, symbol, account, client_order_id, side, price, qty, tif, stp)
    ids = <object>found
    seq = engine._seq + 1
    engine._seq = seq
    if <object>PyDict_SetDefault(ids, client_order_id, seq) is not seq:
        return [validation.duplicate(seq, account, client_order_id, ids[client_order_id])]
    events = [(seq, seq, symbol, account, client_order_id, side, price, qty, ACCEPTED)]
    if side is BUY:
        is_buy, other_side, levels = True, market.ask_keys, market.bids
        key = -c_price
    else:
        is_buy, other_side, levels = False, market.bid_keys, market.asks
        key = c_price
    if not other_side or <long long>other_side[0] > -key:  # nothing to match: most orders
        record = (seq, account, client_order_id, is_buy, price, qty, GTC, stp)
        found = PyDict_GetItem(levels, key)
        if found is NULL:
            book.rest(record, qty)
        else:  # `Book.rest` for its most common case
            level = <object>found
            level.orders.append(record)
            level.live += 1
            level.qty += qty
            market.orders[seq] = record
            market.open_[seq] = qty
        return events
    left = _take(market, seq, account, is_buy, c_qty, -key, stp, seq, events)
    if left:
        book.rest((seq, account, client_order_id, is_buy, price, qty, GTC, stp), left)
    return events


cdef list _plain_cancel(_Context context, object symbol, object account, object order_id):
    """`Engine.cancel` when the market takes cancels and the fields are plain; the core's own method otherwise."""
    cdef long long c_account = 0, c_order = 0
    cdef PyObject* found
    cdef _Market market
    cdef object engine = context.engine, record, level
    if type(symbol) is not str or not _as_int(account, &c_account) or not _as_int(order_id, &c_order):
        return _cancel(engine, symbol, account, order_id)
    market = context.market(symbol)
    if market is None or c_account <= 0 or market.book.mode is HALTED:
        return _cancel(engine, symbol, account, order_id)
    seq = engine._seq + 1
    engine._seq = seq
    orders = market.orders
    found = PyDict_GetItem(orders, order_id)
    if found is NULL or (<object>found)[1] != account:
        return [validation.unknown_order(seq, symbol, account, order_id)]
    record = <object>found
    del orders[order_id]  # the record stays in its level's queue until it reaches the head
    is_buy = record[3]
    level = market.bids[-record[4]] if is_buy else market.asks[record[4]]
    live = level.live = level.live - 1
    open_qty = market.open_.pop(order_id)
    level.qty -= open_qty
    if not live or len(level.orders) > 2 * live + 32:
        market.book.tidy(level, is_buy)
    return [(seq, order_id, open_qty, REASON_USER, CANCELLED)]


cdef inline object _constant(object value):
    cdef PyObject* found = PyDict_GetItem(_constants, value)
    return value if found is NULL else <object>found


cdef list _apply_one(_Context context, object kind, tuple fields):
    if kind is _one or (type(kind) is int and kind == 1):
        if len(fields) == 8:
            return _plain_limit(context, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6],
                                fields[7])
    elif type(kind) is int and kind == 3 and len(fields) == 3:
        return _plain_cancel(context, fields[0], fields[1], fields[2])
    return _apply[kind](context.engine, *fields)


def apply_command(object engine, object kind, tuple fields):
    """Apply one decoded command (canonical fields, as `wire.encode_item` returns them); return its events."""
    return _apply_one(_Context(engine), kind, fields)


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object text)
    bint PyUnicode_CHECK_INTERNED(object text)
    void* PyUnicode_DATA(object text)
    Py_ssize_t PyUnicode_GET_LENGTH(object text)


# The journal payload of a plain limit order, written here in marshal's version-4 format: the
# tuple `marshal.dumps((1, source, *fields), 4)` would write, less its back-reference flags (they
# are optional, and computing them is most of what marshal costs here). `marshal.loads` reads it
# into the same tuple, with the interned constants interned (test_batch checks both).

cdef inline Py_ssize_t _int_size(long long value) noexcept:
    cdef unsigned long long magnitude
    if -2147483648 <= value <= 2147483647:
        return 5  # TYPE_INT
    magnitude = <unsigned long long>(-value) if value < 0 else <unsigned long long>value
    cdef Py_ssize_t digits = 0
    while magnitude:
        digits += 1
        magnitude >>= 15
    return 5 + 2 * digits  # TYPE_LONG: a count, then 15-bit digits


cdef inline unsigned char* _put_int(unsigned char* out, long long value) noexcept:
    cdef unsigned long long magnitude
    cdef int digits = 0
    cdef unsigned char* count
    if -2147483648 <= value <= 2147483647:
        out[0] = b"i"
        put32(out + 1, <uint32_t><int32_t>value)
        return out + 5
    out[0] = b"l"
    count = out + 1
    out += 5
    magnitude = <unsigned long long>(-value) if value < 0 else <unsigned long long>value
    while magnitude:
        out[0] = magnitude & 0xFF
        out[1] = (magnitude >> 8) & 0x7F
        out += 2
        digits += 1
        magnitude >>= 15
    put32(count, <uint32_t><int32_t>(-digits if value < 0 else digits))
    return out


cdef inline unsigned char* _put_text(unsigned char* out, object text) noexcept:
    """A short ASCII string (checked by the caller), interned on reading if it is interned now."""
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(text)
    out[0] = b"Z" if PyUnicode_CHECK_INTERNED(text) else b"z"
    out[1] = <unsigned char>length
    memcpy(out + 2, PyUnicode_DATA(text), length)
    return out + 2 + length


cdef inline bint _short_ascii(object text):
    return PyUnicode_IS_ASCII(text) and PyUnicode_GET_LENGTH(text) < 256


cdef object _limit_payload(object source, tuple fields, long long account, long long price, long long qty):
    """The payload of a limit order whose strings are all short ASCII; None otherwise (marshal then writes it)."""
    cdef Py_ssize_t size = 2 + 5, i
    cdef unsigned char* out
    if account < -(1 << 62) or price < -(1 << 62) or qty < -(1 << 62):
        return None  # (a magnitude this code would not negate safely)
    for i in (0, 2, 3, 6, 7):
        if not _short_ascii(fields[i]):
            return None
    if not _short_ascii(source):
        return None
    size += 2 + PyUnicode_GET_LENGTH(source)
    for i in (0, 2, 3, 6, 7):
        size += 2 + PyUnicode_GET_LENGTH(fields[i])
    size += _int_size(account) + _int_size(price) + _int_size(qty)
    payload = PyBytes_FromStringAndSize(NULL, size)
    out = <unsigned char*>PyBytes_AS_STRING(payload)
    out[0], out[1] = b")", 10  # a small tuple of ten
    out = _put_int(out + 2, 1)  # the kind: a limit order
    out = _put_text(out, source)
    out = _put_text(out, fields[0])
    out = _put_int(out, account)
    out = _put_text(out, fields[2])
    out = _put_text(out, fields[3])
    out = _put_int(out, price)
    out = _put_int(out, qty)
    out = _put_text(out, fields[6])
    _put_text(out, fields[7])
    return payload


cdef tuple _encode_limit(list item, object source):
    """(payload, fields) of a complete plain limit order `[1, symbol, account, id, side, price, qty[, tif[, stp]]]`.

    None when any field is not of the plain types; `wire.encode_item` then decides (and explains).
    """
    cdef Py_ssize_t size = PyList_GET_SIZE(item)
    cdef long long c_account = 0, c_price = 0, c_qty = 0
    symbol, account, client_order_id, side, price, qty = item[1], item[2], item[3], item[4], item[5], item[6]
    tif = item[7] if size > 7 else GTC
    stp = item[8] if size > 8 else CANCEL_NEWEST
    if (
        type(symbol) is not str or type(client_order_id) is not str
        or type(side) is not str or type(tif) is not str or type(stp) is not str
        or not _as_int(account, &c_account) or not _as_int(price, &c_price) or not _as_int(qty, &c_qty)
    ):
        return None
    fields = (symbol, account, client_order_id, _constant(side), price, qty, _constant(tif), _constant(stp))
    payload = _limit_payload(source, fields, c_account, c_price, c_qty)
    if payload is None:
        payload = _dumps((1, source, *fields), _version)
    return payload, fields


def apply_batch(object engine, list work, dict counters):
    """The worker's `_apply`: decode, apply and count each command of each entry; return the journal payloads.

    `work` holds `(pending, start, commands)`: an entry's `Pending` (its results and per-market
    counts are appended to), the index of its first command here, and the commands as decoded
    from the stream. `counters` maps symbol -> [commands, accepted, rejected, trades, volume].
    The caller journals the payloads in one group commit before publishing anything.
    """
    cdef list payloads = [], results, commands, item, events, counts
    cdef dict markets
    cdef Py_ssize_t index, start, count, size
    cdef object pending, prefix, kind, payload, fields, symbol, first, raw, source
    cdef PyObject* found
    cdef tuple encoded, event
    cdef _Context context = _Context(engine)
    for pending, start, commands in work:
        prefix, results, markets = pending.entry_id + "/", pending.results, pending.markets
        count = PyList_GET_SIZE(commands)
        for index in range(count):
            raw = <object>PyList_GET_ITEM(commands, index)
            if type(raw) is not list or not raw:
                results.append(bad_command(NOT_A_COMMAND))
                continue
            item = raw
            size = PyList_GET_SIZE(item)
            kind = item[0]
            source = prefix + str(start + index)
            encoded = None
            if type(kind) is int and kind == 1 and 7 <= size <= 9:
                encoded = _encode_limit(item, source)
            if encoded is not None:
                payload, fields = encoded
                kind = _one
            else:
                try:
                    kind, payload, fields = encode_item(item, source)
                except WireError as error:
                    results.append(bad_command(str(error)))
                    continue
            events = _apply_one(context, kind, fields)
            payloads.append(payload)
            results.append(events)
            symbol = fields[0] if type(fields[0]) is str else "*"
            found = PyDict_GetItem(markets, symbol)
            markets[symbol] = 1 if found is NULL else <object>found + 1
            found = PyDict_GetItem(counters, symbol)
            if found is NULL:
                counts = [0, 0, 0, 0, 0]
                counters[symbol] = counts
            else:
                counts = <list>found
            counts[0] += 1
            if not events:  # a cancel-all with nothing to cancel: done, with no event
                counts[1] += 1
                continue
            first = events[0]
            if first[len(first) - 1] is REJECTED:
                counts[2] += 1
                continue
            counts[1] += 1
            if len(events) > 1:
                for event in events:
                    if event[PyTuple_GET_SIZE(event) - 1] is TRADE:
                        counts[3] += 1
                        counts[4] += event[5]
    return payloads


def replay(object engine, list payloads, object on_replay=None):
    """Apply journal payloads in order (what recovery does per record); `on_replay(source, events)` hears each."""
    cdef object fields
    cdef _Context context = _Context(engine)
    for payload in payloads:
        fields = _loads(payload)
        events = _apply_one(context, fields[0], fields[2:])
        if on_replay is not None:
            on_replay(fields[1], events)
