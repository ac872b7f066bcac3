"""Recovery: snapshot + journal replay gives back exactly the state that was acknowledged."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core import Engine, digest
from engine.core.wire import WireError
from engine.durable import DurableEngine, DurableEngineFailed, recover
from engine.journal import HEADER, Journal, JournalCorruption, JournalError
from tests.engine.flow import MARKETS, order_flow

ROOT = Path(__file__).resolve().parents[2]
FLOW = order_flow(700)


def digest_after(count: int) -> str:
    """The digest of an in-memory engine that applied the first `count` commands of the flow."""
    engine = Engine(MARKETS)
    for command in FLOW[:count]:
        engine.submit(command)
    return digest(engine)


def journal_flow(directory: Path, count: int, *, batch: int = 37, **options) -> DurableEngine:
    durable = DurableEngine.open(directory, MARKETS, **options)
    for start in range(0, count, batch):
        durable.submit(FLOW[start : min(start + batch, count)], source=f"batch-{start}")
    return durable


def record_offsets(segment: Path) -> list[int]:
    """Return where each record of a segment starts."""
    data, offsets, offset = segment.read_bytes(), [], 0
    while offset < len(data):
        offsets.append(offset)
        offset += HEADER.size + HEADER.unpack_from(data, offset)[0]
    return offsets


def test_a_durable_engine_gives_the_same_events_as_the_engine_alone(tmp_path):
    durable, alone = DurableEngine.open(tmp_path, MARKETS), Engine(MARKETS)

    for start in range(0, 300, 25):
        batch = FLOW[start : start + 25]
        assert durable.submit(batch) == [alone.submit(command) for command in batch]


def test_replaying_the_whole_journal_gives_the_live_engines_digest(tmp_path):
    durable = journal_flow(tmp_path, 700, snapshot_every=10**9)
    live = digest(durable.engine)
    durable.close(snapshot=False)

    engine, recovery = recover(Journal(tmp_path), MARKETS)

    assert (recovery.snapshot_sequence, recovery.replayed, recovery.last_sequence) == (0, 700, 700)
    assert digest(engine) == live == digest_after(700)


def test_recovery_starts_from_the_newest_snapshot_and_replays_only_the_tail(tmp_path):
    durable = journal_flow(tmp_path, 650, batch=50, snapshot_every=200)
    durable.close(snapshot=False)

    reopened = DurableEngine.open(tmp_path, MARKETS)

    assert (reopened.recovery.snapshot_sequence, reopened.recovery.replayed) == (600, 50)
    assert digest(reopened.engine) == digest_after(650)
    assert [path.name for path in Journal(tmp_path).snapshots()] == [
        "snapshot-00000000000000000400.snap",
        "snapshot-00000000000000000600.snap",
    ]


def test_a_damaged_newest_snapshot_falls_back_to_the_one_before(tmp_path):
    journal_flow(tmp_path, 650, batch=50, snapshot_every=200).close(snapshot=False)
    newest = Journal(tmp_path).snapshots()[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))

    engine, recovery = recover(Journal(tmp_path), MARKETS)

    assert (recovery.snapshot_sequence, recovery.replayed) == (400, 250)
    assert digest(engine) == digest_after(650)


def test_truncating_the_last_record_at_every_byte_offset_recovers_to_the_record_before(tmp_path):
    journal_flow(tmp_path / "whole", 60, snapshot_every=10**9).close(snapshot=False)
    (segment,) = Journal(tmp_path / "whole").segments()
    last_start, size = record_offsets(segment)[-1], segment.stat().st_size
    expected = digest_after(59)

    for cut in range(last_start, size):
        copy = tmp_path / f"cut-{cut}"
        shutil.copytree(tmp_path / "whole", copy)
        os.truncate(copy / segment.name, cut)

        engine, recovery = recover(Journal(copy), MARKETS)

        assert recovery.last_sequence == 59, cut
        assert digest(engine) == expected, cut
        assert (recovery.torn_tail is None) == (cut == last_start), cut
        assert (copy / segment.name).stat().st_size == last_start  # the torn record was cut off


def test_a_flipped_byte_in_the_middle_is_reported_with_its_segment_offset_and_sequence(tmp_path):
    journal_flow(tmp_path, 60, snapshot_every=10**9).close(snapshot=False)
    (segment,) = Journal(tmp_path).segments()
    offset = record_offsets(segment)[29]  # the record of sequence 30
    data = bytearray(segment.read_bytes())
    data[offset + HEADER.size + 3] ^= 0x10
    segment.write_bytes(bytes(data))

    with pytest.raises(JournalCorruption) as caught:
        recover(Journal(tmp_path), MARKETS)

    assert (caught.value.segment, caught.value.offset, caught.value.sequence) == (segment, offset, 30)
    assert f"{segment.name} at byte {offset} (sequence 30)" in str(caught.value)


def test_a_missing_segment_stops_recovery_instead_of_skipping_commands(tmp_path):
    journal_flow(tmp_path, 300, snapshot_every=10**9, segment_bytes=2_000).close(snapshot=False)
    segments = Journal(tmp_path).segments()
    assert len(segments) > 3
    segments[1].unlink()

    with pytest.raises(JournalError, match=r"where .* was expected"):
        recover(Journal(tmp_path), MARKETS)


def test_the_last_source_survives_a_restart_with_nothing_left_to_replay(tmp_path):
    journal_flow(tmp_path, 100, batch=50).close()  # closing takes a snapshot at 100

    reopened = DurableEngine.open(tmp_path, MARKETS)

    assert (reopened.recovery.replayed, reopened.recovery.last_source) == (0, "batch-50")


def test_a_failed_journal_write_stops_the_engine_and_recovery_forgets_only_that_batch(tmp_path, monkeypatch):
    durable = journal_flow(tmp_path, 100, batch=50)

    def disk_full(payloads):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durable.journal, "append", disk_full)
    with pytest.raises(DurableEngineFailed, match="No space left"):
        durable.submit(FLOW[100:150])
    monkeypatch.undo()
    with pytest.raises(DurableEngineFailed, match="restart to recover"):
        durable.submit(FLOW[100:150])
    durable.close()

    reopened = DurableEngine.open(tmp_path, MARKETS)

    assert reopened.engine.last_seq == 100
    assert digest(reopened.engine) == digest_after(100)


def test_a_killed_process_loses_no_acknowledged_command_and_resumes_exactly_once(tmp_path):
    count, batch = 20_000, 100
    child = [sys.executable, "-m", "tests.engine.crash_writer", str(tmp_path), str(count), str(batch)]
    writer = subprocess.Popen(child, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    acked = 0
    for _ in range(random.Random(os.getpid()).randint(5, 60)):
        acked = int(writer.stdout.readline().split()[1])
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()

    engine, recovery = recover(Journal(tmp_path), MARKETS)

    assert recovery.last_sequence >= acked
    flow = order_flow(count)
    straight = Engine(MARKETS)
    for command in flow[: recovery.last_sequence]:
        straight.submit(command)
    assert digest(engine) == digest(straight)

    finished = subprocess.run(child, cwd=ROOT, capture_output=True, text=True, check=True)
    assert finished.stdout.splitlines()[-1] == "done"
    for command in flow[recovery.last_sequence :]:
        straight.submit(command)
    engine, _ = recover(Journal(tmp_path), MARKETS)
    assert digest(engine) == digest(straight)


def test_a_batch_with_a_command_that_cannot_be_journaled_is_refused_whole_before_it_is_applied(tmp_path):
    durable = journal_flow(tmp_path, 10)
    unwritable = FLOW[10]._replace(symbol=object())

    with pytest.raises(WireError, match="cannot be encoded"):
        durable.submit([FLOW[10], unwritable])

    assert durable.engine.last_seq == 10
    durable.submit([FLOW[10]])  # and the engine goes on
    assert digest(durable.engine) == digest_after(11)
