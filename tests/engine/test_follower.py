"""A standby's follower: the engine it takes over with is the one recovery would have built."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core import Engine, digest
from engine.durable import DurableEngine, JournalLocked, recover
from engine.follower import Follower
from engine.journal import HEADER, SNAPSHOT_PREFIX, Journal, JournalCorruption, _sequence_of
from tests.engine.flow import MARKETS, order_flow
from tests.engine.test_recovery import ROOT, record_offsets

FLOW = order_flow(1_000)
SMALL = {"segment_bytes": 2_000}  # a few dozen records a segment: following crosses many


def digest_after(count: int) -> str:
    engine = Engine(MARKETS)
    for command in FLOW[:count]:
        engine.submit(command)
    return digest(engine)


def write(durable: DurableEngine, start: int, stop: int, batch: int = 37) -> None:
    for first in range(start, stop, batch):
        durable.submit(FLOW[first : min(first + batch, stop)], source=f"batch-{first}")


def test_a_follower_keeps_up_with_a_growing_journal_and_takes_over_where_it_ends(tmp_path):
    durable = DurableEngine.open(tmp_path, MARKETS, snapshot_every=200, **SMALL)
    write(durable, 0, 100)
    follower = Follower(tmp_path, MARKETS)
    for start in range(100, 700, 60):
        write(durable, start, start + 60)
        follower.catch_up()
        assert follower.engine.last_seq == start + 60
        assert digest(follower.engine) == digest_after(start + 60)
    assert len(Journal(tmp_path).segments()) > 3  # it crossed segments, and pruned ones

    with pytest.raises(JournalLocked):  # the writer lives
        follower.take_over()
    durable.close(snapshot=False)
    taken = follower.take_over(snapshot_every=200, **SMALL)

    assert (taken.recovery.last_sequence, taken.recovery.last_source) == (700, "batch-677")
    assert taken.recovery.snapshot_sequence == follower.snapshot_sequence  # where following started
    assert taken.recovery.torn_tail is None
    assert taken.recovery.standby
    write(taken, 700, 900)  # it writes on where the journal ended...
    taken.close(snapshot=False)
    engine, recovery = recover(Journal(tmp_path), MARKETS)
    assert recovery.last_sequence == 900  # ...and a cold recovery reads it all back
    assert digest(engine) == digest(taken.engine) == digest_after(900)


def test_reading_in_slices_gives_the_same_engine(tmp_path):
    durable = DurableEngine.open(tmp_path, MARKETS, snapshot_every=10**9, **SMALL)
    write(durable, 0, 700)
    follower = Follower(tmp_path, MARKETS)
    calls = 1

    follower.catch_up(budget=333)  # a slice ends mid-record, and segments end within slices
    while follower.unread or follower.engine.last_seq < 700:
        assert follower.lost is None
        follower.catch_up(budget=333)
        calls += 1

    assert calls > len(Journal(tmp_path).segments())
    assert digest(follower.engine) == digest_after(700)
    write(durable, 700, 800)
    follower.catch_up(budget=10**6)
    assert (follower.unread, follower.engine.last_seq) == (0, 800)


def test_take_over_hears_what_a_cold_recovery_would_have_heard(tmp_path):
    durable = DurableEngine.open(tmp_path, MARKETS, snapshot_every=10**9)
    write(durable, 0, 50)
    durable.snapshot()
    write(durable, 50, 400)
    follower = Follower(tmp_path, MARKETS)
    follower.catch_up()
    write(durable, 400, 450)  # not yet read when the writer dies
    durable.close(snapshot=False)
    cold: list = []
    recover(Journal(tmp_path), MARKETS, lambda source, events: cold.append((source, events)))

    warm: list = []
    taken = follower.take_over(on_replay=lambda source, events: warm.append((source, events)))

    assert warm == cold
    assert len(warm) == 400
    assert taken.recovery.replayed == 50  # the records written after the last catch-up


def test_a_record_being_written_is_waited_for_and_a_torn_one_is_cut_at_take_over(tmp_path):
    durable = DurableEngine.open(tmp_path, MARKETS)
    write(durable, 0, 60)
    durable.close(snapshot=False)
    (segment,) = Journal(tmp_path).segments()
    last = record_offsets(segment)[-1]
    whole = segment.read_bytes()
    os.truncate(segment, last + 5)  # the writer is half way through record 60
    follower = Follower(tmp_path, MARKETS)

    follower.catch_up()
    assert (follower.engine.last_seq, follower.lost) == (59, None)
    with open(segment, "ab") as handle:  # ...and finishes it
        handle.write(whole[last + 5 :])
    follower.catch_up()
    assert (follower.engine.last_seq, follower.lost) == (60, None)

    with open(segment, "ab") as handle:  # the next one is torn by a crash
        handle.write(whole[last : last + HEADER.size + 2])
    follower.catch_up()
    taken = follower.take_over()

    assert taken.recovery.torn_tail.problem == "incomplete payload"
    assert segment.stat().st_size == len(whole)  # cut where record 61 began
    assert (taken.engine.last_seq, digest(taken.engine)) == (60, digest_after(60))
    write(taken, 60, 100)
    taken.close(snapshot=False)
    assert digest(recover(Journal(tmp_path), MARKETS)[0]) == digest_after(100)


def test_a_corrupt_record_stops_following_and_the_take_over_reports_it_as_recovery_does(tmp_path):
    durable = DurableEngine.open(tmp_path, MARKETS, snapshot_every=10**9)
    write(durable, 0, 60)
    durable.close(snapshot=False)
    (segment,) = Journal(tmp_path).segments()
    offset = record_offsets(segment)[29]  # sequence 30, with more records after it
    data = bytearray(segment.read_bytes())
    data[offset + HEADER.size + 3] ^= 0x10
    segment.write_bytes(bytes(data))
    follower = Follower(tmp_path, MARKETS)

    follower.catch_up()

    assert follower.engine.last_seq == 29
    assert "the record at 30 is unsound (checksum mismatch)" in follower.lost
    with pytest.raises(JournalCorruption, match=r"sequence 30\): checksum mismatch"):
        follower.take_over()
    with pytest.raises(JournalCorruption):
        DurableEngine.open(tmp_path, MARKETS)


def test_segments_pruned_before_they_were_read_send_the_follower_to_the_newest_snapshot(tmp_path):
    durable = DurableEngine.open(tmp_path, MARKETS, snapshot_every=150, **SMALL)
    write(durable, 0, 40)
    follower = Follower(tmp_path, MARKETS)  # holds the state at 40: nothing open yet
    write(durable, 40, 700)  # snapshots at 150, 300, ... prune what it would have read

    follower.catch_up()

    assert follower.lost is None
    assert follower.snapshot_sequence > 40
    assert (follower.engine.last_seq, digest(follower.engine)) == (700, digest_after(700))
    durable.close(snapshot=False)
    assert follower.take_over().recovery.last_sequence == 700


def newest_snapshot(directory: Path) -> int:
    return _sequence_of(Journal(directory).snapshots()[-1], SNAPSHOT_PREFIX)


def test_a_follower_far_behind_a_newer_snapshot_restores_it_rather_than_replay_up_to_it(tmp_path, monkeypatch):
    durable = DurableEngine.open(tmp_path, MARKETS, snapshot_every=150, **SMALL)
    write(durable, 0, 100)
    follower = Follower(tmp_path, MARKETS)
    follower.catch_up()
    write(durable, 100, 700)  # a snapshot every 150 commands or so: the newest is past 500
    newest = newest_snapshot(tmp_path)

    assert not follower.skip_to_snapshot(gap=newest - 100)  # not more than that ahead of 100
    assert follower.engine.last_seq == 100
    assert follower.skip_to_snapshot(gap=newest - 101)
    assert (follower.engine.last_seq, follower.snapshot_sequence) == (newest, newest)
    assert digest(follower.engine) == digest_after(newest)
    assert not follower.skip_to_snapshot(gap=0)  # nothing newer
    assert follower.catch_up() == 700 - newest
    assert digest(follower.engine) == digest_after(700)

    behind = Follower(tmp_path, MARKETS)  # at the newest snapshot; the writer goes on, snapshotting
    write(durable, 700, 1_000)
    durable.close(snapshot=False)
    later = newest_snapshot(tmp_path)
    monkeypatch.setattr("engine.follower.SKIP_GAP", later - newest - 1)
    taken = behind.take_over(snapshot_every=150, **SMALL)
    assert (taken.recovery.snapshot_sequence, taken.recovery.replayed) == (later, 1_000 - later)
    assert taken.recovery.standby
    assert digest(taken.engine) == digest_after(1_000)


def test_a_follower_that_let_go_of_events_still_wanted_takes_over_from_cold(tmp_path):
    durable = DurableEngine.open(tmp_path, MARKETS, snapshot_every=10**9)
    write(durable, 0, 200)
    durable.close(snapshot=False)
    follower = Follower(tmp_path, MARKETS, keep=50)
    follower.catch_up()
    assert follower.dropped == "batch-148"  # the 150th command came in the batch from 148
    heard: list = []

    taken = follower.take_over(on_replay=lambda *heard_one: heard.append(heard_one), wanted=lambda source: True)

    assert len(heard) == 200  # cold recovery replayed everything, and was heard
    assert not taken.recovery.standby
    assert digest(taken.engine) == digest_after(200)
    taken.close(snapshot=False)
    kept = Follower(tmp_path, MARKETS, keep=50)
    kept.catch_up()
    heard.clear()
    kept.take_over(on_replay=lambda *heard_one: heard.append(heard_one), wanted=lambda source: False)
    assert [source for source, _ in heard] == [source for source, _ in kept.heard]
    assert len(heard) == 50


def test_a_writer_killed_under_load_loses_no_acknowledged_command_at_take_over(tmp_path):
    count, batch = 20_000, 100
    child = [sys.executable, "-m", "tests.engine.crash_writer", str(tmp_path), str(count), str(batch)]
    writer = subprocess.Popen(child, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().startswith("acked")
    follower = Follower(tmp_path, MARKETS)
    acked = 0
    for _ in range(random.Random(os.getpid()).randint(20, 150)):
        acked = int(writer.stdout.readline().split()[1])
        follower.catch_up()
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()

    taken = follower.take_over()

    assert follower.lost is None
    assert taken.recovery.last_sequence >= acked
    straight = Engine(MARKETS)
    for command in order_flow(count)[: taken.recovery.last_sequence]:
        straight.submit(command)
    assert digest(taken.engine) == digest(straight)
    taken.close(snapshot=False)
    engine, _ = recover(Journal(Path(tmp_path)), MARKETS)
    assert digest(engine) == digest(straight)
