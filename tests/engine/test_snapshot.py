"""Snapshots restore the whole state, prove it by digest, and refuse corruption."""

from __future__ import annotations

import pytest

from engine.core import Cancel, Engine, Limit, Market, SetMode, SnapshotError, digest, dump, load
from tests.engine.conftest import ALICE, BOB, BTC, ETH, MAKER, btc_config, buy, sell

HISTORY = [
    sell(MAKER, "m1", 10_010, 5),
    sell(MAKER, "m2", 10_020, 5),
    buy(ALICE, "a1", 9_990, 3, tif="post_only"),
    buy(BOB, "b1", 10_015, 7, stp="cancel_both"),
    Cancel(BTC, MAKER, 2),
    Limit(ETH, ALICE, "e1", "sell", 700, 2),
    Market(BTC, ALICE, "a2", "sell", 1),
    SetMode(ETH, "cancel_only"),
]


def test_replaying_the_same_commands_gives_the_same_events_and_digest(engine):
    other = Engine([btc_config(), *[engine._books[ETH].config]])

    assert [engine.submit(command) for command in HISTORY] == [other.submit(command) for command in HISTORY]
    assert digest(engine) == digest(other)


def test_a_restored_snapshot_has_the_same_digest_and_behaves_the_same(engine):
    for command in HISTORY:
        engine.submit(command)

    restored = load(dump(engine))

    assert digest(restored) == digest(engine)
    assert restored.mode(ETH) == "cancel_only"
    more = [buy(ALICE, "a3", 10_010, 10), buy(BOB, "b1", 10_000, 1), Cancel(BTC, ALICE, 3)]
    assert [restored.submit(command) for command in more] == [engine.submit(command) for command in more]
    assert digest(restored) == digest(engine)


def test_the_digest_changes_with_the_state(engine):
    before = digest(engine)

    engine.submit(buy(ALICE, "a1", 9_990, 3))

    assert digest(engine) != before


def test_a_corrupted_snapshot_is_refused_with_a_clear_error(engine):
    for command in HISTORY:
        engine.submit(command)
    data = bytearray(dump(engine))
    data[len(data) // 2] ^= 0x01

    with pytest.raises(SnapshotError, match=r"checksum mismatch.*corrupted or truncated"):
        load(bytes(data))


def test_a_truncated_snapshot_is_refused(engine):
    engine.submit(buy(ALICE, "a1", 9_990, 3))

    with pytest.raises(SnapshotError, match="corrupted or truncated"):
        load(dump(engine)[:-1])


def test_something_that_is_not_a_snapshot_is_refused():
    with pytest.raises(SnapshotError, match="not an engine snapshot"):
        load(b'{"seq": 1}')
