"""The journal: group commit, torn tails cut, corruption located, snapshots and pruning."""

from __future__ import annotations

import os

import pytest

from engine.journal import (
    HEADER,
    Journal,
    JournalCorruption,
    JournalError,
    SyncPolicy,
    encode_record,
    segment_name,
)


def payloads(count: int, start: int = 1) -> list[bytes]:
    return [f"command-{number}".encode() for number in range(start, start + count)]


def read_all(directory, **options) -> list[tuple[int, bytes]]:
    return [(record.sequence, record.payload) for record in Journal(directory, **options).records()]


def test_it_numbers_records_in_order_and_reads_them_back(tmp_path):
    journal = Journal(tmp_path)
    assert journal.append(payloads(3)) == 3
    assert journal.append(payloads(2, start=4)) == 5
    journal.close()
    assert read_all(tmp_path) == [(n, f"command-{n}".encode()) for n in range(1, 6)]


def test_it_reads_only_the_records_after_a_given_sequence(tmp_path):
    journal = Journal(tmp_path)
    journal.append(payloads(10))
    journal.close()
    assert [record.sequence for record in Journal(tmp_path).records(after=7)] == [8, 9, 10]


def test_a_reopened_journal_continues_the_numbering(tmp_path):
    first = Journal(tmp_path)
    first.append(payloads(4))
    first.close()
    second = Journal(tmp_path)
    assert second.append([b"next"]) == 5


def test_a_batch_costs_one_fsync_whatever_its_size(tmp_path, monkeypatch):
    journal = Journal(tmp_path)
    journal.append([b"warm-up"])  # creating the segment also syncs the directory
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))
    journal.append(payloads(1000))
    assert len(calls) == 1


def test_the_none_policy_never_fsyncs_and_batch_interval_defers_it(tmp_path, monkeypatch):
    calls = []
    real_fsync = os.fsync
    none = Journal(tmp_path / "none", policy=SyncPolicy.NONE)
    deferred = Journal(tmp_path / "interval", policy=SyncPolicy.BATCH_INTERVAL, interval=3600)
    none.append([b"warm-up"])
    deferred.append([b"warm-up"])
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))
    none.append(payloads(10))
    deferred.append(payloads(10))
    assert calls == []
    deferred.sync()
    assert len(calls) == 1


@pytest.fixture
def journal_of_five(tmp_path):
    journal = Journal(tmp_path)
    journal.append(payloads(5))
    journal.close()
    segment = tmp_path / segment_name(1)
    last_record_start = segment.stat().st_size - len(encode_record(5, b"command-5"))
    return segment, last_record_start


def test_a_torn_last_record_is_cut_at_every_byte_offset_and_the_rest_recovered(tmp_path, journal_of_five, caplog):
    segment, last_start = journal_of_five
    intact = segment.read_bytes()
    for cut in range(last_start, len(intact)):
        # given a crash that left only part of the last record on disk
        segment.write_bytes(intact[:cut])
        # when the journal is recovered
        records = read_all(tmp_path)
        # then every earlier record is there, and the torn one is gone from the file
        assert [sequence for sequence, _ in records] == [1, 2, 3, 4], f"cut at byte {cut}"
        assert segment.stat().st_size == last_start
    assert "cutting a torn last record" in caplog.text


def test_appending_after_a_torn_tail_reuses_its_sequence_number(tmp_path, journal_of_five):
    segment, last_start = journal_of_five
    segment.write_bytes(segment.read_bytes()[: last_start + 3])
    journal = Journal(tmp_path)
    assert journal.append([b"again"]) == 5
    journal.close()
    assert read_all(tmp_path)[-1] == (5, b"again")


def test_a_flipped_byte_in_the_middle_stops_recovery_naming_segment_offset_and_sequence(tmp_path, journal_of_five):
    segment, _ = journal_of_five
    data = bytearray(segment.read_bytes())
    second_record = len(encode_record(1, b"command-1"))
    data[second_record + HEADER.size + 2] ^= 0xFF  # inside the payload of record 2
    segment.write_bytes(bytes(data))
    with pytest.raises(JournalCorruption) as caught:
        read_all(tmp_path)
    error = caught.value
    assert (error.segment, error.offset, error.sequence) == (segment, second_record, 2)
    assert f"{segment.name} at byte {second_record} (sequence 2): checksum mismatch" in str(error)
    assert len(segment.read_bytes()) == len(data), "a corrupt journal must not be cut"


def test_a_bad_last_record_of_an_earlier_segment_is_corruption_not_a_torn_write(tmp_path):
    journal = Journal(tmp_path, segment_bytes=64)
    for number in range(1, 7):
        journal.append([f"command-{number}".encode()])
    journal.close()
    first = sorted(tmp_path.glob("segment-*"))[0]
    data = bytearray(first.read_bytes())
    data[-1] ^= 0x01
    first.write_bytes(bytes(data))
    with pytest.raises(JournalCorruption, match=first.name):
        read_all(tmp_path)


def test_a_gap_in_the_sequence_is_corruption(tmp_path):
    segment = tmp_path / segment_name(1)
    segment.write_bytes(encode_record(1, b"a") + encode_record(3, b"c") + encode_record(4, b"d"))
    with pytest.raises(JournalCorruption, match="sequence 3 where 2 was expected"):
        read_all(tmp_path)


def test_it_rolls_segments_and_reads_across_them(tmp_path):
    journal = Journal(tmp_path, segment_bytes=200)
    for start in range(1, 100, 10):
        journal.append(payloads(10, start=start))
    journal.close()
    assert len(journal.segments()) > 3
    assert [sequence for sequence, _ in read_all(tmp_path)] == list(range(1, 101))


def test_recovery_uses_the_newest_valid_snapshot(tmp_path, caplog):
    journal = Journal(tmp_path)
    journal.append(payloads(20))
    journal.write_snapshot(10, b"state after 10")
    newest = journal.write_snapshot(20, b"state after 20")
    newest.write_bytes(newest.read_bytes()[:-1] + b"?")  # damaged on disk
    assert journal.latest_snapshot() == (10, b"state after 10")
    assert "skipping snapshot" in caplog.text


def test_pruning_keeps_recent_snapshots_and_the_segments_they_still_need(tmp_path):
    journal = Journal(tmp_path, segment_bytes=120)
    for number in range(1, 31):
        journal.append([f"command-{number}".encode()])
        if number % 10 == 0:
            journal.write_snapshot(number, f"state {number}".encode())
    journal.close()
    journal.prune(keep_snapshots=2)
    assert [path.name for path in journal.snapshots()] == [
        "snapshot-00000000000000000020.snap",
        "snapshot-00000000000000000030.snap",
    ]
    sequence, _ = journal.latest_snapshot()
    remaining = [record.sequence for record in Journal(tmp_path).records(after=20)]
    assert remaining == list(range(21, 31))
    assert sequence == 30


def test_an_oversized_record_is_refused_before_anything_is_written(tmp_path):
    journal = Journal(tmp_path)
    with pytest.raises(JournalError, match="over the"):
        journal.append([b"x" * (16 * 1024 * 1024 + 1)])
    assert journal.last_sequence == 0


def test_verification_reports_a_torn_tail_without_cutting_it(tmp_path, journal_of_five):
    segment, last_start = journal_of_five
    torn = segment.read_bytes()[: last_start + 5]
    segment.write_bytes(torn)
    journal = Journal(tmp_path)
    assert [record.sequence for record in journal.records(cut_torn_tail=False)] == [1, 2, 3, 4]
    assert journal.torn_tail.offset == last_start
    assert segment.read_bytes() == torn
