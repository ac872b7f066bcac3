"""Snapshot, restore and state digest of an engine.

The state is written as canonical JSON (sorted keys, no spaces, orders in priority order) so
that two engines in the same state give the same bytes whatever their history: lazily deleted
entries, lingering empty levels and dict layouts never show. `digest` is the SHA-256 of those
bytes, and a snapshot is the same bytes behind a header carrying that digest, so a corrupted or
truncated snapshot is refused on load and a restored engine proves itself by its digest.
"""

from __future__ import annotations

import hashlib
import json

from .book import ACCOUNT, BASE, CLIENT_ID, OID, PRICE, STP, TIF, Book
from .matching import Engine
from .types import MarketConfig, canonical

MAGIC = b"exchange-console engine snapshot v1\n"
_DIGEST_LENGTH = 64  # hex SHA-256


class SnapshotError(ValueError):
    """A snapshot that cannot be restored: wrong format, corrupted or truncated."""


def digest(engine: Engine) -> str:
    """Return the SHA-256 (hex) of the engine's whole state; equal states give equal digests."""
    return hashlib.sha256(_encode(export_state(engine))).hexdigest()


def dump(engine: Engine) -> bytes:
    """Return a checksummed snapshot of the engine's whole state."""
    body = _encode(export_state(engine))
    return MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def load(data: bytes) -> Engine:
    """Rebuild an engine from `dump` output, refusing anything corrupted."""
    if not data.startswith(MAGIC):
        raise SnapshotError("not an engine snapshot (the header is missing or damaged)")
    header_end = len(MAGIC) + _DIGEST_LENGTH
    expected, body = data[len(MAGIC) : header_end], data[header_end + 1 :]
    actual = hashlib.sha256(body).hexdigest().encode()
    if data[header_end : header_end + 1] != b"\n" or actual != expected:
        raise SnapshotError(
            f"snapshot checksum mismatch (header says {expected.decode(errors='replace')}, "
            f"content hashes to {actual.decode()}): the snapshot is corrupted or truncated; "
            "restore an older snapshot and replay the journal from there"
        )
    try:
        return import_state(json.loads(body))
    except (ValueError, KeyError, TypeError) as error:  # a checksum that matches content we did not write
        raise SnapshotError(f"snapshot content is not an engine state: {error!r}") from error


def export_state(engine: Engine) -> dict:
    """Return the engine's state as plain data (what snapshots and digests are made of)."""
    books = engine._books
    return {
        "seq": engine._seq,
        "markets": [_export_book(books[symbol]) for symbol in sorted(books)],
        "client_ids": {str(account): sorted(ids.items()) for account, ids in sorted(engine._client_ids.items())},
    }


def import_state(state: dict) -> Engine:
    """Build an engine from `export_state` output."""
    markets = state["markets"]
    engine = Engine([MarketConfig(**market["config"]) for market in markets], seq=state["seq"])
    for market in markets:
        book = engine._books[market["config"]["symbol"]]
        book.last_price = market["last_price"]
        book.set_mode(market["mode"])
        for is_buy, side in ((True, "bids"), (False, "asks")):
            for oid, account, client_id, price, qty, filled, tif, stp in market[side]:
                book.rest((oid, account, client_id, is_buy, price, qty + filled, canonical(tif), canonical(stp)), qty)
    engine._client_ids = {int(account): dict(pairs) for account, pairs in state["client_ids"].items()}
    return engine


def _export_book(book: Book) -> dict:
    return {
        "config": book.config._asdict(),
        "mode": book.mode,
        "last_price": book.last_price,
        "bids": [_export_record(book, record) for record in book.resting(True)],
        "asks": [_export_record(book, record) for record in book.resting(False)],
    }


def _export_record(book: Book, record: tuple) -> list:
    open_qty = book.open[record[OID]]
    filled = record[BASE] - open_qty
    return [record[OID], record[ACCOUNT], record[CLIENT_ID], record[PRICE], open_qty, filled, record[TIF], record[STP]]


def _encode(state: dict) -> bytes:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
