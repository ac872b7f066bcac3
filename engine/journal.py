"""The engine's journal: an append-only log of commands in segment files, plus snapshots.

Each record is `length (u32) | sequence (u64) | crc32 (u32) | payload`, little-endian; the
CRC covers the sequence and the payload. Records are written in batches and made durable
together (group commit): one fsync per batch, after which the caller may acknowledge every
command in it. Recovery reads the newest valid snapshot and the records after it.

A crash mid-write leaves a torn last record: it is detected and cut off, with a log line.
A record that fails its check anywhere else is corruption: recovery stops with an error
naming the segment, the offset and the sequence number. Nothing is ever silently skipped.
"""

from __future__ import annotations

import enum
import itertools
import logging
import os
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from engine.records import encode_records, scan_records

logger = logging.getLogger(__name__)

HEADER = struct.Struct("<IQI")  # payload length, sequence number, crc32
SEGMENT_PREFIX, SEGMENT_SUFFIX = "segment-", ".log"
SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX = "snapshot-", ".snap"
SNAPSHOT_MAGIC = b"EXCSNAP1"
SNAPSHOT_HEADER = struct.Struct("<8sQQI")  # magic, sequence, payload length, crc32
MAX_PAYLOAD = 16 * 1024 * 1024
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


class SyncPolicy(enum.StrEnum):
    """When appended records reach the disk."""

    FSYNC = "fsync"  # every batch is fsynced before append returns (the default)
    BATCH_INTERVAL = "batch-interval"  # fsync at most every `interval`: a crash may lose that much
    NONE = "none"  # never fsync: benchmarks only


class JournalError(Exception):
    """The journal cannot be used as it is."""


class JournalCorruption(JournalError):
    """A record failed its check where it cannot be a torn write; says where."""

    def __init__(self, segment: Path, offset: int, sequence: int | None, problem: str) -> None:
        self.segment, self.offset, self.sequence, self.problem = segment, offset, sequence, problem
        where = f"{segment.name} at byte {offset}" + (f" (sequence {sequence})" if sequence is not None else "")
        super().__init__(f"journal corrupt in {where}: {problem}")


class Record(NamedTuple):
    """One journaled command: its sequence number and its payload (see `engine.core.wire`)."""

    sequence: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class TornTail:
    """A last record that a crash left incomplete: where it starts and what is wrong."""

    segment: Path
    offset: int
    dropped_bytes: int
    problem: str


def record_crc(sequence: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(sequence.to_bytes(8, "little")))


def encode_record(sequence: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload), sequence, record_crc(sequence, payload)) + payload


def segment_name(first_sequence: int) -> str:
    return f"{SEGMENT_PREFIX}{first_sequence:020d}{SEGMENT_SUFFIX}"


def segments_in(directory: Path) -> list[Path]:
    """The segment files of a journal directory, oldest first."""
    return sorted(Path(directory).glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}"))


def snapshots_in(directory: Path) -> list[Path]:
    """The snapshot files of a journal directory, oldest first (drafts being written are not listed)."""
    return sorted(Path(directory).glob(f"{SNAPSHOT_PREFIX}*{SNAPSHOT_SUFFIX}"))


def _sequence_of(path: Path, prefix: str) -> int:
    return int(path.name[len(prefix) :].split(".", 1)[0])


class Journal:
    """An open journal directory: recover with `records()`, then `append()` batches."""

    def __init__(
        self,
        directory: Path,
        *,
        policy: SyncPolicy = SyncPolicy.FSYNC,
        interval: float = 0.005,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.policy = SyncPolicy(policy)
        self.interval = interval
        self.segment_bytes = segment_bytes
        self.last_sequence = 0
        self._file = None
        self._file_size = 0
        self._last_sync = 0.0
        self._dirty = False
        self._scanned = False
        self.torn_tail: TornTail | None = None

    # -- reading ---------------------------------------------------------------------------

    def segments(self) -> list[Path]:
        return segments_in(self.directory)

    def records(self, after: int = 0, *, cut_torn_tail: bool = True) -> Iterator[Record]:
        """Yield every record with a sequence above `after`, cutting a torn tail on the way.

        With `cut_torn_tail=False` the files are left untouched and the torn tail is only
        noted in `self.torn_tail` (for verification).
        """
        new = tuple.__new__
        for first, payloads in self.batches(after, cut_torn_tail=cut_torn_tail):
            for number, payload in enumerate(payloads, first):
                yield new(Record, (number, payload))

    def batches(self, after: int = 0, *, cut_torn_tail: bool = True) -> Iterator[tuple[int, list[bytes]]]:
        """Yield the records above `after` as runs `(first sequence, payloads)`, as `records` does one by one.

        Every record is read and checked, those at or below `after` too (a journal is sound or
        recovery says where it is not), but only the ones above are copied out.
        """
        segments = self.segments()
        expected = None
        for index, segment in enumerate(segments):
            is_last = index == len(segments) - 1
            for following, payloads in self._read_segment(
                segment, is_last=is_last, expected=expected, cut=cut_torn_tail, after=after
            ):
                expected = following
                self.last_sequence = following - 1
                if payloads:
                    yield following - len(payloads), payloads
        self._scanned = True

    def _read_segment(
        self, segment: Path, *, is_last: bool, expected: int | None, cut: bool, after: int = 0
    ) -> Iterator[tuple[int, list[bytes]]]:
        """Yield `(next sequence, payloads above after)` for each run of sound records in one segment."""
        with open(segment, "rb") as handle:
            data = handle.read()
        offset, size = 0, len(data)
        if expected is None:
            expected = _sequence_of(segment, SEGMENT_PREFIX)
        # The sound records, most of the file, are read in C (`engine.records`); the first one that
        # is not goes to `_parse`, which says what is wrong.
        while offset < size:
            payloads, offset, expected = scan_records(data, offset, expected, MAX_PAYLOAD, max(after, 0))
            yield expected, payloads
            if offset >= size:
                return
            problem, record, end = _parse(data, offset)
            if problem is None and record.sequence != expected:
                problem = f"sequence {record.sequence} where {expected} was expected"
            torn = is_last and (end is None or end >= size)
            if not torn:
                raise JournalCorruption(segment, offset, record.sequence if record else None, problem)
            self.torn_tail = TornTail(segment, offset, size - offset, problem)
            if cut:
                self._cut(self.torn_tail)
            return

    def _cut(self, torn: TornTail) -> None:
        logger.warning(
            "journal: cutting a torn last record in %s at byte %d (%d bytes dropped): %s",
            torn.segment.name, torn.offset, torn.dropped_bytes, torn.problem,
        )  # fmt: skip
        with open(torn.segment, "r+b") as handle:
            handle.truncate(torn.offset)
            handle.flush()
            os.fsync(handle.fileno())

    def resume(self, last_sequence: int, torn_tail: TornTail | None = None) -> None:
        """Write after `last_sequence`, the end found by a reader that checked every record.

        For a standby taking over (`engine.follower`): it has read the journal already, so
        nothing is read again. The torn tail it found, if any, is cut here as recovery would.
        """
        if torn_tail is not None:
            self.torn_tail = torn_tail
            self._cut(torn_tail)
        self.last_sequence = last_sequence
        self._scanned = True

    # -- writing ---------------------------------------------------------------------------

    def append(self, payloads: Iterable[bytes]) -> int:
        """Write one batch with the next sequence numbers; return the last. Durable on return under FSYNC."""
        if not self._scanned:
            for _ in self.records(after=2**63):  # find the tail (and cut a torn one) before writing
                pass
        payloads = payloads if type(payloads) is list else list(payloads)
        if not payloads:
            return self.last_sequence
        try:
            blob = encode_records(self.last_sequence + 1, payloads, MAX_PAYLOAD)
        except ValueError as error:  # a payload over the limit: nothing was written
            raise JournalError(str(error)) from None
        sequence = self.last_sequence + len(payloads)
        handle = self._writable(self.last_sequence + 1)
        handle.write(blob)
        self._file_size += len(blob)
        self.last_sequence = sequence
        self._dirty = True
        self._sync(force=self.policy is SyncPolicy.FSYNC)
        return sequence

    def sync(self) -> None:
        """Make everything appended so far durable (the batch-interval timer calls this too)."""
        self._sync(force=True)

    def close(self) -> None:
        if self._file is not None:
            if self.policy is not SyncPolicy.NONE:
                self.sync()
            self._file.close()
            self._file = None

    def _writable(self, next_sequence: int):
        if self._file is not None and self._file_size >= self.segment_bytes:
            self.sync()
            self._file.close()
            self._file = None
        if self._file is None:
            segments = self.segments()
            if segments and (segments[-1].stat().st_size < self.segment_bytes):
                path = segments[-1]
            else:
                path = self.directory / segment_name(next_sequence)
            created = not path.exists()
            self._file = open(path, "ab", buffering=0)  # noqa: SIM115 (kept open across batches)
            self._file_size = self._file.tell()
            if created:
                _fsync_directory(self.directory)  # the new file's name must survive a crash too
        return self._file

    def _sync(self, *, force: bool) -> None:
        if not self._dirty or self._file is None or (self.policy is SyncPolicy.NONE and not force):
            return
        now = time.monotonic()
        if force or now - self._last_sync >= self.interval:
            os.fsync(self._file.fileno())
            self._dirty = False
            self._last_sync = now

    # -- snapshots -------------------------------------------------------------------------

    def write_snapshot(self, sequence: int, payload: bytes) -> Path:
        """Store a snapshot of the state after `sequence`, atomically (write, fsync, rename)."""
        header = SNAPSHOT_HEADER.pack(SNAPSHOT_MAGIC, sequence, len(payload), record_crc(sequence, payload))
        path = self.directory / f"{SNAPSHOT_PREFIX}{sequence:020d}{SNAPSHOT_SUFFIX}"
        draft = path.with_suffix(".tmp")
        with open(draft, "wb") as handle:
            handle.write(header + payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(draft, path)
        _fsync_directory(self.directory)
        return path

    def snapshots(self) -> list[Path]:
        return snapshots_in(self.directory)

    def latest_snapshot(self) -> tuple[int, bytes] | None:
        """Return (sequence, payload) of the newest snapshot that passes its check, if any."""
        for path in reversed(self.snapshots()):
            try:
                return read_snapshot(path)
            except JournalError as error:
                logger.error("journal: skipping snapshot %s: %s", path.name, error)
        return None

    def prune(self, *, keep_snapshots: int = 2) -> list[Path]:
        """Delete old snapshots, and segments wholly covered by the oldest snapshot kept."""
        snapshots = self.snapshots()
        removed = snapshots[:-keep_snapshots] if len(snapshots) > keep_snapshots else []
        kept = snapshots[len(removed) :]
        if kept:
            covered = _sequence_of(kept[0], SNAPSHOT_PREFIX)
            segments = self.segments()
            for current, following in itertools.pairwise(segments):
                if _sequence_of(following, SEGMENT_PREFIX) - 1 <= covered:
                    removed.append(current)
        for path in removed:
            path.unlink()
        return removed


def read_snapshot(path: Path) -> tuple[int, bytes]:
    data = path.read_bytes()
    if len(data) < SNAPSHOT_HEADER.size:
        raise JournalError(f"{path.name} is shorter than a snapshot header")
    magic, sequence, length, crc = SNAPSHOT_HEADER.unpack_from(data)
    payload = data[SNAPSHOT_HEADER.size :]
    if magic != SNAPSHOT_MAGIC:
        raise JournalError(f"{path.name} is not a snapshot (magic {magic!r})")
    if len(payload) != length or record_crc(sequence, payload) != crc:
        raise JournalError(f"{path.name} fails its checksum")
    return sequence, payload


def _parse(data: bytes, offset: int) -> tuple[str | None, Record | None, int | None]:
    """Return (problem, record, end offset) for the record at `offset`."""
    if len(data) - offset < HEADER.size:
        return "incomplete header", None, None
    length, sequence, crc = HEADER.unpack_from(data, offset)
    if length > MAX_PAYLOAD:
        return f"impossible length {length}", None, None
    start = offset + HEADER.size
    end = start + length
    if end > len(data):
        return "incomplete payload", Record(sequence, b""), None
    payload = data[start:end]
    if record_crc(sequence, payload) != crc:
        return "checksum mismatch", Record(sequence, payload), end
    return None, Record(sequence, payload), end


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
