"""A warm standby's engine: kept up to date by reading the journal the live worker writes.

    follower = Follower(directory, markets)     # restores the newest snapshot, reads what follows
    follower.catch_up()                         # now and then: applies the records written since
    follower.skip_to_snapshot()                 # far behind: start again from a newer snapshot instead
    durable = follower.take_over(...)           # once the writer is gone: lock, last records, go

Recovering from cold means restoring a snapshot and replaying up to `snapshot_every` commands
(several seconds' work for a million). A standby that has been following only has the records
written since its last `catch_up` left to apply, so it takes over in a fraction of that.

The follower never writes, never locks and never cuts anything while it follows: an incomplete
record at the end is the writer's batch in progress, read again next time. Only `take_over`,
holding the lock the dead writer no longer holds, decides what an incomplete end is (a torn
tail, cut off as recovery would) and opens the journal for writing.

It gives up, and `take_over` recovers from cold instead (which then says what is wrong), when the
records are not what a journal may hold: a corrupt record with more after it, a segment that
does not start where the last one ended. A segment pruned before it was read only sends it back
to the newest snapshot. Nothing here is trusted that recovery would not have checked: each record
passes the same CRC and numbering checks (`engine.records.scan_records`).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from engine.batch import replay
from engine.core import Engine, Event, MarketConfig
from engine.core.wire import source_of
from engine.durable import (
    DEFAULT_SNAPSHOT_EVERY,
    DurableEngine,
    Recovery,
    ReplayCallback,
    _lock,
    _restore,
    no_collections,
)
from engine.journal import (
    MAX_PAYLOAD,
    SEGMENT_PREFIX,
    SNAPSHOT_PREFIX,
    Journal,
    SyncPolicy,
    TornTail,
    _parse,
    _sequence_of,
    segment_name,
    segments_in,
    snapshots_in,
)
from engine.records import scan_records

logger = logging.getLogger(__name__)

KEEP_HEARD = 50_000  # commands whose events are kept for the worker to publish again after a crash
# Commands a newer snapshot must be ahead of a follower for it to restore that snapshot rather than
# replay up to it: replaying 250,000 commands takes most of a second (cold recovery runs some
# 290,000 a second), restoring even a million resting orders takes less (benchmarks/engine_core.py).
SKIP_GAP = 250_000


class Follower:
    """An engine rebuilt from a journal directory and kept level with it as it grows."""

    def __init__(self, directory: Path, markets: Sequence[MarketConfig], *, keep: int = KEEP_HEARD) -> None:
        self.directory = Path(directory)
        self.markets = list(markets)
        self.keep = keep
        self.lost: str | None = None  # why following stopped, if it did: take over from cold
        self.unread = 0  # bytes the last `catch_up` left unread (its budget spent), about
        self._start()

    def _start(self) -> None:
        """(Re)start from the newest snapshot: the state a cold recovery would start from."""
        snapshot = Journal(self.directory).latest_snapshot()
        if snapshot is None:
            self.engine, self.snapshot_sequence, self.last_source = Engine(self.markets), 0, None
        else:
            self.snapshot_sequence, payload = snapshot
            self.engine, self.last_source = _restore(self.snapshot_sequence, payload)
        self.followed = 0  # commands applied since that snapshot
        self.heard: deque[tuple[str | None, list[Event]]] = deque(maxlen=self.keep)
        self.dropped: str | None = None  # the newest source whose events were let go of
        self._close()

    # -- following ---------------------------------------------------------------------------

    def catch_up(self, budget: int | None = None) -> int:
        """Apply the records written since the last call; return how many were applied.

        With a `budget`, read at most that many bytes: `unread` then says how much more there is
        (a standby reads in slices, so as to hear its "go" between them).
        """
        self.unread = 0
        if self.lost is not None:
            return 0
        try:
            with no_collections():
                return self._read(-1 if budget is None else budget)
        except OSError as error:
            self._give_up(f"the journal cannot be read: {error}")
            return 0

    def skip_to_snapshot(self, gap: int | None = None) -> bool:
        """Start again from the newest snapshot if it is more than `gap` (`SKIP_GAP`) commands ahead; True if so.

        A follower that fell behind (the writer had the CPU) need not replay what a snapshot
        already holds: restoring one costs what the state weighs, replaying costs what was
        written, and far behind the second is the larger. What it heard before is let go of, as
        a cold recovery would: a snapshot is only written once everything before it was published.
        """
        gap = SKIP_GAP if gap is None else gap
        snapshots = snapshots_in(self.directory)
        if self.lost is not None or not snapshots:
            return False
        if _sequence_of(snapshots[-1], SNAPSHOT_PREFIX) <= self.engine.last_seq + gap:
            return False
        try:
            with no_collections():
                self._start()
        except OSError as error:
            self._give_up(f"the newest snapshot cannot be read: {error}")
        return True

    def _read(self, budget: int) -> int:
        applied = 0
        while True:
            if self._handle is None and not self._open():
                return applied
            # Listed before reading: once a later segment exists, the writer has finished this one.
            later = [path for path in segments_in(self.directory) if path.name > self._segment.name]
            chunk = self._handle.read(budget)
            data = self._buffer + chunk if self._buffer else chunk
            # Records up to the engine's sequence (a segment read from its start) are checked, not applied.
            applying_after = self.engine.last_seq
            payloads, offset, self._scanned_to = scan_records(data, 0, self._scanned_to, MAX_PAYLOAD, applying_after)
            self._buffer = data[offset:]
            if payloads:
                self._apply(payloads)
                applied += len(payloads)
            if self.lost is not None:
                return applied
            if len(chunk) == budget:  # the budget is spent, not the file: nothing is known of its end
                unread = os.fstat(self._handle.fileno()).st_size - self._handle.tell()
                self.unread = max(1, unread + sum(_size(path) for path in later))
                return applied
            if self._buffer:
                problem, _, end = _parse(self._buffer, 0)
                if later or (end is not None and end < len(self._buffer)):
                    self._give_up(f"{self._segment.name}: the record at {self._scanned_to} is unsound ({problem})")
                return applied  # unless unsound, the writer's batch in progress
            if not later:
                return applied
            if later[0].name != segment_name(self._scanned_to):
                self._give_up(f"{later[0].name} follows {self._segment.name}, which ends before {self._scanned_to}")
                return applied
            self._close()

    def _open(self) -> bool:
        """Open the segment holding the next record; False if there is none yet."""
        for attempt in range(2):
            segments = segments_in(self.directory)
            following = self.engine.last_seq + 1
            holding = [path for path in segments if _sequence_of(path, SEGMENT_PREFIX) <= following]
            if holding:
                try:
                    self._handle = open(holding[-1], "rb")  # noqa: SIM115 (kept open: pruning cannot take it away)
                except FileNotFoundError:
                    continue
                self._segment = holding[-1]
                self._scanned_to = _sequence_of(self._segment, SEGMENT_PREFIX)
                return True
            if not segments or attempt:
                return False
            logger.info("engine follower: the segments after sequence %d were pruned; restarting", following - 1)
            self._start()  # they were covered by a newer snapshot
        return False

    def _close(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()
        self._handle: BinaryIO | None = None
        self._segment: Path | None = None
        self._buffer = b""
        self._scanned_to = 0

    def _apply(self, payloads: list[bytes]) -> None:
        first = self._scanned_to - len(payloads)
        if first != self.engine.last_seq + 1:
            self._give_up(f"record {first} follows the state at {self.engine.last_seq}")
            return
        heard = self.heard
        if len(heard) + len(payloads) > self.keep:
            self.dropped = self._dropped_by(len(heard) + len(payloads) - self.keep, payloads)
        replay(self.engine, payloads, self._hear)  # each record takes the engine's next sequence number
        self.followed += len(payloads)
        self.last_source = source_of(payloads[-1])

    def _dropped_by(self, count: int, payloads: list[bytes]) -> str | None:
        """The newest source of the `count` oldest commands about to leave `heard`."""
        if count <= len(self.heard):
            return self.heard[count - 1][0]
        return source_of(payloads[count - len(self.heard) - 1])

    def _hear(self, source: str | None, events: list[Event]) -> None:
        self.heard.append((source, events))

    def _give_up(self, reason: str) -> None:
        logger.warning("engine follower: stopped following (%s); a take-over will recover from cold", reason)
        self.lost = reason
        self._close()

    # -- taking over ------------------------------------------------------------------------

    def take_over(
        self,
        *,
        policy: SyncPolicy = SyncPolicy.FSYNC,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        on_replay: ReplayCallback | None = None,
        wanted: Callable[[str], bool] | None = None,
        **journal_options: object,
    ) -> DurableEngine:
        """Become the journal's writer: what `DurableEngine.open` returns, from the followed state.

        Raises `JournalLocked` while the writer lives. `on_replay` hears the commands kept in
        `heard` (the newest `keep` followed) as recovery's would; if it would have needed one
        let go of (`wanted(source)` is true for `dropped`), or following stopped, this recovers
        from cold instead.
        """
        started = time.perf_counter()
        lock = _lock(self.directory)
        try:
            self.skip_to_snapshot()
            followed = self.followed
            self.catch_up()
            replayed = self.followed - followed  # what was left to apply: the take-over's own work
            if self.lost is None and self.dropped is not None and wanted is not None and wanted(self.dropped):
                self._give_up(f"the events of {self.dropped} were let go of")
            segments = segments_in(self.directory)
            if self.lost is None and segments and self._segment != segments[-1]:
                self._give_up(f"following stopped before {segments[-1].name}")
            if self.lost is not None:
                return DurableEngine.open(
                    self.directory, self.markets, policy=policy, snapshot_every=snapshot_every,
                    on_replay=on_replay, lock=lock, **journal_options,
                )  # fmt: skip
            torn = self._torn_tail()
            self._close()
            if on_replay is not None:
                for source, events in self.heard:
                    on_replay(source, events)
            journal = Journal(self.directory, policy=policy, **journal_options)
            journal.resume(self.engine.last_seq, torn)
            recovery = Recovery(
                self.snapshot_sequence, replayed, self.engine.last_seq, self.last_source,
                time.perf_counter() - started, torn, standby=True,
            )  # fmt: skip
        except BaseException:
            os.close(lock)
            raise
        durable = DurableEngine.locked(self.engine, journal, recovery, lock, snapshot_every=snapshot_every)
        logger.info(
            "engine taken over at sequence %d in %.3f s (%d commands followed since snapshot %d)",
            recovery.last_sequence, recovery.seconds, self.followed, self.snapshot_sequence,
        )  # fmt: skip
        return durable

    def _torn_tail(self) -> TornTail | None:
        """The incomplete last record, if any: nobody can still be writing it."""
        if not self._buffer:
            return None
        problem, _, _ = _parse(self._buffer, 0)
        size = self._segment.stat().st_size
        return TornTail(self._segment, size - len(self._buffer), len(self._buffer), problem or "incomplete")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # pruned since it was listed
        return 0
