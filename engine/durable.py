"""A journaled engine: commands applied in batches and made durable together before anyone hears of them.

    durable = DurableEngine.open(directory, markets)       # recovers: newest snapshot + journal tail
    results = durable.submit([command, ...], source="...")   # one group commit; events per command
    durable.close()                                          # snapshot, sync, close

Every command, accepted or rejected, takes the next engine sequence number and the next journal
record, so a record's sequence number is the engine's and replay is just applying the records
in order. Commands are applied first and journaled after (the engine is deterministic, so the
record is as good as the state it produced), and `submit` returns only once the batch is
durable under the journal's policy: that is when the caller may acknowledge it.

If the journal cannot be written, the engine is ahead of the disk: the instance refuses all
further work (`DurableEngineFailed`) and the process must restart, which recovers from disk and
so forgets exactly the commands nobody was told about.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import marshal
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.batch import replay
from engine.core import Engine, Event, MarketConfig, dump, load
from engine.core.types import Command
from engine.core.wire import APPLY, encode, source_of
from engine.journal import Journal, JournalError, SyncPolicy, TornTail

logger = logging.getLogger(__name__)

DEFAULT_SNAPSHOT_EVERY = 1_000_000  # commands between snapshots: recovery replays at most this many
KEEP_SNAPSHOTS = 2


class DurableEngineFailed(JournalError):
    """The journal could not be written after commands were applied: restart and recover."""


@dataclass(frozen=True, slots=True)
class Recovery:
    """What recovery found and did; `seconds` is the time to a ready engine (the measured RTO)."""

    snapshot_sequence: int  # 0 when there was no snapshot
    replayed: int
    last_sequence: int
    last_source: str | None  # the source attached to the last journaled command
    seconds: float
    torn_tail: TornTail | None
    standby: bool = False  # taken over by a standby that followed the journal (`engine.follower`)


ReplayCallback = Callable[[str | None, list[Event]], None]


def recover(
    journal: Journal, markets: Sequence[MarketConfig], on_replay: ReplayCallback | None = None
) -> tuple[Engine, Recovery]:
    """Rebuild the engine from the newest valid snapshot and the journal records after it.

    `markets` is used only for a journal with no snapshot yet; afterwards the snapshot's markets
    are the engine's. A gap between the snapshot and the records, or a corrupt record, raises
    `JournalError` naming where: recovery never skips a command. `on_replay(source, events)`, if
    given, hears every replayed command (the worker re-sends acknowledgements lost in a crash).
    """
    started = time.perf_counter()
    snapshot = journal.latest_snapshot()
    if snapshot is None:
        engine, snapshot_sequence, last_source = Engine(markets), 0, None
    else:
        snapshot_sequence, payload = snapshot
        engine, last_source = _restore(snapshot_sequence, payload)
    with no_collections():
        replayed, last_payload = _replay(engine, journal, on_replay)
    if journal.last_sequence < engine.last_seq:
        raise JournalError(
            f"the journal ends at sequence {journal.last_sequence}, before the snapshot at {engine.last_seq}: "
            "records the snapshot depends on are missing"
        )
    if last_payload is not None:
        last_source = source_of(last_payload)
    seconds = time.perf_counter() - started
    recovery = Recovery(snapshot_sequence, replayed, engine.last_seq, last_source, seconds, journal.torn_tail)
    logger.info(
        "engine recovered to sequence %d: snapshot %d, %d commands replayed in %.3f s",
        recovery.last_sequence, snapshot_sequence, replayed, seconds,
    )  # fmt: skip
    return engine, recovery


@contextlib.contextmanager
def no_collections() -> Iterator[None]:
    """Suspend automatic garbage collection while rebuilding or replaying an engine.

    The core makes no reference cycles (tests/engine/test_core_garbage.py): collections would
    find nothing, yet walk the growing books again and again.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _restore(sequence: int, payload: bytes) -> tuple[Engine, str | None]:
    """Return the engine and last source kept in a journal snapshot (see `DurableEngine.snapshot`)."""
    try:
        last_source, state = marshal.loads(payload)  # noqa: S302 (our own file, CRC-checked)
        engine = load(state)
    except (ValueError, EOFError, TypeError) as error:  # SnapshotError is a ValueError
        raise JournalError(f"snapshot at sequence {sequence} cannot be restored: {error}") from error
    if engine.last_seq != sequence:
        raise JournalError(f"snapshot named {sequence} holds the state after {engine.last_seq}")
    return engine, last_source


def _replay(engine: Engine, journal: Journal, on_replay: ReplayCallback | None) -> tuple[int, bytes | None]:
    """Apply every record after the engine's sequence; return how many and the last payload.

    A run of records at a time, applied by the compiled batch path (`engine.batch.replay`).
    """
    start = expected = engine.last_seq + 1
    payload = None
    for first, payloads in journal.batches(after=engine.last_seq):
        if first != expected:
            raise JournalError(
                f"journal record {first} follows the state at {expected - 1}: records in between are missing"
            )
        replay(engine, payloads, on_replay)
        expected += len(payloads)
        payload = payloads[-1]
    return expected - start, payload


@dataclass(frozen=True, slots=True)
class BackgroundSnapshot:
    """A snapshot being written by a child process (see `DurableEngine.snapshot_in_background`)."""

    pid: int
    sequence: int
    started: float


class DurableEngine:
    """An engine and its journal, kept in step: submit batches, snapshot now and then."""

    def __init__(
        self, engine: Engine, journal: Journal, recovery: Recovery, *, snapshot_every: int = DEFAULT_SNAPSHOT_EVERY
    ) -> None:
        self.engine = engine
        self.journal = journal
        self.recovery = recovery
        self.snapshot_every = snapshot_every
        self.snapshot_sequence = recovery.snapshot_sequence
        self.last_source = recovery.last_source
        self.failed: BaseException | None = None
        self._lock: int | None = None

    @classmethod
    def open(
        cls,
        directory: Path,
        markets: Sequence[MarketConfig],
        *,
        policy: SyncPolicy = SyncPolicy.FSYNC,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        on_replay: ReplayCallback | None = None,
        lock: int | None = None,
        **journal_options: object,
    ) -> DurableEngine:
        """Open (or create) a journal directory and recover the engine it describes.

        The directory is locked for this process (released when it exits, however it exits): two
        writers could only corrupt it, so a second one gets `JournalLocked` at once. A caller that
        already holds the lock (a standby taking over) passes its descriptor as `lock`.
        """
        lock = _lock(Path(directory)) if lock is None else lock
        journal = Journal(directory, policy=policy, **journal_options)
        engine, recovery = recover(journal, markets, on_replay)
        return cls.locked(engine, journal, recovery, lock, snapshot_every=snapshot_every)

    @classmethod
    def locked(
        cls, engine: Engine, journal: Journal, recovery: Recovery, lock: int, *, snapshot_every: int
    ) -> DurableEngine:
        """The durable engine of a recovered state whose journal directory `lock` holds (see `open`)."""
        durable = cls(engine, journal, recovery, snapshot_every=snapshot_every)
        durable._lock = lock
        if recovery.snapshot_sequence == 0 and recovery.last_sequence == 0:
            durable.snapshot()  # a new journal: its markets' configuration is on disk from the start
        return durable

    def submit(self, commands: Sequence[Command], source: str | None = None) -> list[list[Event]]:
        """Apply commands, make them durable in one group commit, and return each one's events.

        The commands are applied as given and journaled encoded: the same thing, since encoding
        round-trips every field exactly (test_wire). A command that cannot be encoded is refused
        with `WireError` before anything is applied.
        """
        payloads = [encode(command, source) for command in commands]
        submit = self.engine.submit
        return self._commit(payloads, lambda: [submit(command) for command in commands], source)

    def apply(self, payloads: Sequence[bytes]) -> list[list[Event]]:
        """Apply encoded commands (`engine.core.wire`) and make them durable together; see `submit`."""
        engine, loads, apply = self.engine, marshal.loads, APPLY

        def run() -> list[list[Event]]:
            results = []
            for payload in payloads:
                fields = loads(payload)
                results.append(apply[fields[0]](engine, *fields[2:]))
            return results

        return self._commit(payloads, run, source_of(payloads[-1]) if payloads else self.last_source)

    def commit_applied(self, payloads: Sequence[bytes]) -> None:
        """Journal commands the caller has already applied to `self.engine`, in that order; see `submit`.

        For the worker, which applies each command as it decodes it. If the caller's applying
        failed half way, the process must exit without calling this: recovery forgets the batch.
        """
        self._commit(payloads, lambda: None, source_of(payloads[-1]) if payloads else self.last_source)

    def _commit(self, payloads: Sequence[bytes], run: Callable[[], list[list[Event]]], source: str | None) -> list:
        if self.failed is not None:
            raise DurableEngineFailed("an earlier journal write failed: restart to recover") from self.failed
        engine = self.engine
        try:
            results = run()
            last = self.journal.append(payloads)
            if last != engine.last_seq:
                raise JournalError(f"journal at sequence {last} but engine at {engine.last_seq}")
        except Exception as error:  # the engine may now be ahead of the journal: only a restart is safe
            self.failed = error
            raise DurableEngineFailed(f"batch could not be applied and journaled: {error}") from error
        if payloads:
            self.last_source = source
        if engine.last_seq - self.snapshot_sequence >= self.snapshot_every:
            self.snapshot()
        return results

    def snapshot(self) -> Path:
        """Write a snapshot of the current state and drop what it makes unnecessary."""
        self.journal.sync()  # the records before a snapshot must be durable before it is
        sequence = self.engine.last_seq
        # The last source goes with the state, so a restart with nothing to replay still knows it.
        payload = marshal.dumps((self.last_source, dump(self.engine)), 4)
        path = self.journal.write_snapshot(sequence, payload)
        self.snapshot_sequence = sequence
        removed = self.journal.prune(keep_snapshots=KEEP_SNAPSHOTS)
        logger.info("engine snapshot at sequence %d (%s); %d old files removed", sequence, path.name, len(removed))
        return path

    def snapshot_in_background(self) -> BackgroundSnapshot:
        """Start writing a snapshot of the current state from a forked child; return at once.

        The child sees the state as it was at the fork (copy-on-write), so the caller goes on
        applying commands while it writes: no pause however large the books. `finish_snapshot`
        collects it. The caller must have no other threads (fork copies only the calling one).
        """
        self.journal.sync()
        sequence = self.engine.last_seq
        payload_source = self.last_source
        pid = os.fork()
        if pid == 0:  # the child: write and leave without running any of the parent's cleanup
            status = 1
            try:
                gc.disable()
                _yield_cpu()
                if self._lock is not None:
                    os.close(self._lock)  # the parent's descriptor keeps the lock; ours must not outlive it
                self.journal.write_snapshot(sequence, marshal.dumps((payload_source, dump(self.engine)), 4))
                status = 0
            finally:
                os._exit(status)
        return BackgroundSnapshot(pid, sequence, time.monotonic())

    def finish_snapshot(self, pending: BackgroundSnapshot, *, wait: bool = False) -> bool | None:
        """Collect a background snapshot: True once written, False if it failed, None if still running."""
        pid, status = os.waitpid(pending.pid, 0 if wait else os.WNOHANG)
        if pid == 0:
            return None
        if os.waitstatus_to_exitcode(status) != 0:
            logger.error("engine snapshot at sequence %d failed (child status %d)", pending.sequence, status)
            return False
        self.snapshot_sequence = max(self.snapshot_sequence, pending.sequence)
        removed = self.journal.prune(keep_snapshots=KEEP_SNAPSHOTS)
        logger.info(
            "engine snapshot at sequence %d written in the background in %.2f s; %d old files removed",
            pending.sequence, time.monotonic() - pending.started, len(removed),
        )  # fmt: skip
        return True

    def close(self, *, snapshot: bool = True) -> None:
        """Snapshot (unless told not to, or failed) and close the journal."""
        if snapshot and self.failed is None and self.engine.last_seq != self.snapshot_sequence:
            self.snapshot()
        self.journal.close()
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None


class JournalLocked(JournalError):
    """Another process holds the journal directory."""


def _yield_cpu() -> None:
    """Run at idle priority: a snapshot is background work and must not take CPU from the live path.

    At 100,000 orders/s the books and client order ids grow by about a gigabyte a minute, and
    writing them takes seconds of CPU that the worker, Redis and the producers need. At idle priority the
    snapshot is written in the time they leave; under full load it takes longer, and the next one
    starts later (one at a time), which the standby's following makes harmless to recovery.
    """
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: normal priority
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def _lock(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise JournalLocked(f"journal {directory} is in use by another process") from None
    return descriptor
