"""The engine worker: one process per shard, commands in from Redis, acknowledgements out.

    python -m engine.worker --config worker.json --beat-fd 5     # started by the supervisor

Loop: read a batch of command entries from the shard's stream (`engine.streams`), decode and
apply them, journal them with one group commit, then publish each entry's acknowledgement (to
the event stream and to the entry's reply list). Nothing is published before it is durable.

Exactly once across crashes: each journal record carries `"{entry id}/{index}"`, the stream
entry and position it came from. On start the worker recovers (snapshot + journal), then
resumes after the last journaled command: the rest of a half-journaled entry is applied, and
acknowledgements journaled but not published before the crash are published again (the
engine is deterministic, so replay produces the very events the lost ones held). A command is
never applied twice, and an acknowledged one is never lost.

The worker knows nothing of Django. It reports to its supervisor through a pipe, one line per
message, written without ever blocking the loop: `h` heartbeats (at least every 200 ms) and a
JSON `ready` line with what recovery did. Every second it appends a metrics snapshot to the
shard's metrics stream, and it keeps the shard's heartbeat key fresh for readers. It stops
cleanly on SIGTERM or SIGINT (finish the batch in hand, snapshot, exit 0) and when its
supervisor's end of the pipe closes.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import json
import logging
import math
import os
import resource
import select
import signal
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
import redis

from engine.batch import NOT_A_COMMAND, apply_batch
from engine.core import Engine, MarketConfig
from engine.core.wire import WireError, encode_item
from engine.durable import BackgroundSnapshot, DurableEngine
from engine.follower import Follower
from engine.journal import SyncPolicy
from engine.streams import REPLY_TTL_MS, Keys, bad_command, entry_key, pack, unpack

logger = logging.getLogger("engine.worker")

NEVER = 2**62
HEARTBEAT_TTL_MS = 2_000
FOLLOW_INTERVAL = 0.05  # seconds between a standby's reads of the journal...
FOLLOW_BUDGET = 1 << 20  # ...of at most this many bytes (some 15,000 orders: tens of ms), so "go" is heard at once
FOLLOW_FAR = 8 << 20  # bytes behind (some 120,000 orders) past which following stops yielding to the worker
REDIS_RETRY_MAX = 0.2  # seconds between attempts to reach Redis: it counts in the RTO of a restart
LOST_SCAN_PAGE = 256  # acknowledgements read at a time when checking the journal against them
METRICS_KEPT = 7 * 3600  # one-second snapshots kept in Redis: at least six hours (issue 4)


@dataclass
class WorkerConfig:
    """Everything a worker needs; the supervisor writes it as JSON (see `to_json`)."""

    shard: str
    journal_dir: str
    redis_url: str
    markets: list[dict]  # MarketConfig fields by name
    policy: str = SyncPolicy.FSYNC.value
    # Snapshots are written by a forked child (no pause), yet each fork copies the page tables and
    # the child's writing makes the worker's own writes copy pages: at 100,000 orders/s, snapshots
    # every 200,000 commands cost about 10% of throughput and 4 ms of p99 (BENCHMARKS.md). A cold
    # recovery replays at most this many commands (about 3.5 s for a million); a standby that
    # follows the journal takes over without replaying them (`engine.follower`).
    snapshot_every: int = 1_000_000  # commands between snapshots...
    snapshot_interval: float = 30.0  # ...or seconds, whichever comes first (if anything changed)
    max_entries: int = 256  # stream entries per read...
    commit_commands: int = 4096  # ...journaled in group commits of about this many commands each
    heartbeat_interval: float = 0.1
    metrics_interval: float = 1.0
    depth_levels: int = 10
    events_maxlen: int = 100_000  # event stream entries kept (approximately)
    standby_follows: bool = True  # a standby keeps an engine level with the journal, to take over at once

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerConfig:
        return cls(**json.loads(text))

    def market_configs(self) -> list[MarketConfig]:
        return [MarketConfig(**market) for market in self.markets]


class Histogram:
    """Latencies in microseconds, in buckets 5% wide: percentiles within 5%, in constant memory."""

    GROWTH = 1.05

    def __init__(self) -> None:
        self.counts: dict[int, int] = defaultdict(int)
        self.count = 0
        self.maximum = 0.0

    def record(self, microseconds: float, times: int = 1) -> None:
        bucket = int(math.log(microseconds, self.GROWTH)) if microseconds >= 1 else 0
        self.counts[bucket] += times
        self.count += times
        if microseconds > self.maximum:
            self.maximum = microseconds

    def percentile(self, fraction: float) -> float | None:
        """The upper bound of the bucket holding the `fraction` quantile (None when empty)."""
        if not self.count:
            return None
        rank, seen = fraction * self.count, 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return min(self.GROWTH ** (bucket + 1), self.maximum)
        return self.maximum

    def summary(self) -> dict[str, float | int | None]:
        pick = lambda value: None if value is None else round(value, 1)  # noqa: E731
        return {
            "count": self.count,
            "p50": pick(self.percentile(0.5)),
            "p99": pick(self.percentile(0.99)),
            "p999": pick(self.percentile(0.999)),
            "max": pick(self.maximum if self.count else None),
        }


class Beat:
    """The worker's line to its supervisor: never blocks, drops metrics rather than stall."""

    LIMIT = 1 << 20  # bytes queued for a supervisor that is not reading, before metrics are dropped

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.buffer = bytearray()
        if fd is not None:
            os.set_blocking(fd, False)

    def heartbeat(self) -> None:
        self._send(b"h\n", droppable=False)

    def message(self, kind: str, **body: object) -> None:
        self._send(json.dumps({"type": kind, **body}, separators=(",", ":")).encode() + b"\n", droppable=True)

    def _send(self, line: bytes, *, droppable: bool) -> None:
        if self.fd is None:
            return
        if droppable and len(self.buffer) > self.LIMIT:
            return
        self.buffer += line
        try:
            written = os.write(self.fd, self.buffer)
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno == errno.EAGAIN:
                return
            raise  # EPIPE: the supervisor is gone (BrokenPipeError), and so must we be
        del self.buffer[:written]


@dataclass
class MarketCounters:
    commands: int = 0
    accepted: int = 0
    rejected: int = 0
    trades: int = 0
    volume: int = 0


@dataclass
class Pending:
    """One entry's acknowledgement, journaled and waiting to be published."""

    entry_id: str
    reply: str | None
    sent_ns: int | None
    results: list = field(default_factory=list)
    markets: dict[str, int] = field(default_factory=dict)  # commands per market, for per-market latency


class Worker:
    def __init__(self, config: WorkerConfig, beat: Beat, follower: Follower | None = None) -> None:
        self.config = config
        self.follower = follower  # a standby's engine, level with the journal: taken over, not recovered
        self.keys = Keys(config.shard)
        self.beat = beat
        self.stopping = False
        self.started = time.time()
        self.durable: DurableEngine | None = None
        self.redis = redis.Redis.from_url(config.redis_url, socket_timeout=5, socket_connect_timeout=2)
        self.position = "0-0"  # the last stream entry fully applied
        self.unpublished: list[Pending] = []
        self.counters: dict[str, list[int]] = {}
        self.latency = Histogram()
        self.market_latency: dict[str, Histogram] = {}
        self.process = psutil.Process()
        self.process.cpu_percent()  # the first reading only starts the clock
        self.pending_snapshot: BackgroundSnapshot | None = None
        self.last_snapshot_time = time.monotonic()
        self.last_beat = self.last_metrics = 0.0
        self.queue_depth = 0
        self.last_published: str | None = None  # the newest entry acknowledged, as the event stream says

    # -- start ------------------------------------------------------------------------------

    def run(self) -> int:
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._stop)
        gc.disable()  # collections happen on the heartbeat instead (`_settle`)
        self.beat.heartbeat()
        self._wait_for_redis()
        if self.stopping:
            return 0
        floor = self._republish_floor()
        replayed: dict[str, list[tuple[int, list]]] = defaultdict(list)

        def wanted(source: str | None) -> bool:
            return source is not None and floor is not None and entry_key(source.rpartition("/")[0]) > floor

        def remember(source: str | None, events: list) -> None:
            if wanted(source):
                entry_id, _, index = source.rpartition("/")
                replayed[entry_id].append((int(index), events))
            self._tick()  # a long replay still heartbeats: it is recovering, not hung

        options = {
            "policy": SyncPolicy(self.config.policy),
            "snapshot_every": NEVER,  # the worker snapshots in the background, after publishing
            "on_replay": remember,
        }
        if self.follower is not None:
            self.durable = self.follower.take_over(wanted=wanted, **options)
            self.follower = None
        else:
            self.durable = DurableEngine.open(Path(self.config.journal_dir), self.config.market_configs(), **options)
        recovery = self.durable.recovery
        if recovery.last_source:
            self.position = recovery.last_source.rpartition("/")[0]
        if self.last_published is not None and entry_key(self.last_published) > entry_key(self.position):
            self.position = self.last_published  # entries after the journal's last held no command it keeps
        lost = self._acknowledged_beyond(recovery.last_sequence)
        if lost:
            logger.critical("engine worker: %d acknowledged commands are not in the journal", lost)
        self._finish_replayed(replayed)
        self.beat.message(
            "ready",
            pid=os.getpid(),
            recovery={
                "snapshot_sequence": recovery.snapshot_sequence,
                "replayed": recovery.replayed,
                "last_sequence": recovery.last_sequence,
                "seconds": round(recovery.seconds, 4),
                "standby": recovery.standby,
                "torn_tail": None if recovery.torn_tail is None else recovery.torn_tail.problem,
                "republished": len(replayed),
                "lost_acknowledged": lost,
            },
            position=self.position,
        )
        logger.info("engine worker ready at sequence %d, reading after %s", recovery.last_sequence, self.position)
        try:
            self._loop()
        finally:
            self._shutdown()
        return 0

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _wait_for_redis(self) -> None:
        delay = 0.05
        while not self.stopping:
            try:
                self.redis.ping()
                return
            except redis.RedisError as error:
                logger.warning("engine worker: Redis unavailable (%s); retrying", error)
                self._sleep(delay)
                delay = min(delay * 2, REDIS_RETRY_MAX)

    def _sleep(self, seconds: float) -> None:
        """Sleep, heartbeating: waiting for Redis is not a hang."""
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, self.config.heartbeat_interval))
            self.beat.heartbeat()

    def _acknowledged_beyond(self, last_sequence: int) -> int:
        """Count acknowledged commands the journal does not hold: the real RPO of this recovery (0 by design).

        Every acknowledged command carries its sequence number, and acknowledgements are published
        in sequence order, so the event stream is read from its newest end back to the first
        acknowledgement the journal covers.
        """
        lost, newest = 0, "+"
        while True:
            page = self.redis.xrevrange(self.keys.events, max=newest, count=LOST_SCAN_PAGE)
            for stream_id, fields in page:
                results = unpack(fields[b"a"])[1]
                sequences = [events[0][0] for events in results if events and events[0][0] is not None]
                if sequences and max(sequences) <= last_sequence:
                    return lost
                lost += sum(1 for sequence in sequences if sequence > last_sequence)
                newest = "(" + stream_id.decode()
            if len(page) < LOST_SCAN_PAGE:
                return lost

    def _republish_floor(self) -> tuple[int, int] | None:
        """Entries after this key may hold journaled commands whose acknowledgement was never published.

        That is every entry after the last one published, among those still in the command
        stream (an entry Redis no longer has cannot be answered: its reply list is unknown).
        """
        last = self.redis.xrevrange(self.keys.events, count=1)
        self.last_published = unpack(last[0][1][b"a"])[0] if last else None
        first = self.redis.xrange(self.keys.commands, count=1)
        if not first:
            return None
        floor = entry_key(first[0][0].decode())
        floor = (floor[0], floor[1] - 1)
        if self.last_published is not None:
            floor = max(floor, entry_key(self.last_published))
        return floor

    def _finish_replayed(self, replayed: dict[str, list[tuple[int, list]]]) -> None:
        """Publish acknowledgements lost in a crash; apply the rest of a half-journaled entry.

        An acknowledgement answers every command of its entry, in order, including those refused
        before the engine (which have no journal record): their answers are decided again here,
        the same way, since deciding them depends on nothing but the command.
        """
        for entry_id in sorted(replayed, key=entry_key):
            found = self.redis.xrange(self.keys.commands, entry_id, entry_id)
            commands = _commands(found[0][1]) if found else None
            if not isinstance(commands, list):
                continue  # gone from Redis (or never readable): nobody can be answered
            fields, done = found[0][1], dict(replayed[entry_id])
            pending = Pending(entry_id, _text(fields.get(b"r")), _int(fields.get(b"t")))
            last_done = max(done)
            for index, item in enumerate(commands[: last_done + 1]):
                events = done.get(index)
                if events is None:
                    events = bad_command(_refusal(item, f"{entry_id}/{index}"))
                pending.results.append(events)
            rest = commands[last_done + 1 :]
            if rest:
                logger.warning("engine worker: entry %s was half journaled; applying the rest", entry_id)
                self._apply([(pending, last_done + 1, rest)])
            else:
                self.unpublished.append(pending)
        self._publish()
        if replayed:
            logger.info("engine worker: %d acknowledgements lost in a crash published again", len(replayed))

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        block_ms = max(1, int(self.config.heartbeat_interval * 1000))
        stream, count = self.keys.commands, self.config.max_entries
        delay = 0.05
        while not self.stopping:
            self._tick()
            try:
                if self.unpublished:
                    self._publish()
                found = self.redis.xread({stream: self.position}, count=count, block=block_ms)
                delay = 0.05
            except redis.RedisError as error:
                logger.warning("engine worker: Redis error (%s); retrying", error)
                self._sleep(delay)
                delay = min(delay * 2, REDIS_RETRY_MAX)
                continue
            if found:
                self._process(found[0][1])

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self.last_beat >= self.config.heartbeat_interval:
            self.last_beat = now
            self.beat.heartbeat()
            if self.durable is not None:
                self._announce()
                self._settle()
        if self.durable is None:
            return
        if now - self.last_metrics >= self.config.metrics_interval:
            interval = now - self.last_metrics if self.last_metrics else self.config.metrics_interval
            self.last_metrics = now
            self._trim()
            self._record_metrics(self.metrics(interval))
        self._snapshot_if_due(now)

    def _process(self, entries: list) -> None:
        """Decode a read's entries; apply, journal and publish them a group commit at a time."""
        work, size = [], 0
        for number, (raw_id, fields) in enumerate(entries, 1):
            entry_id = raw_id.decode()
            pending = Pending(entry_id, _text(fields.get(b"r")), _int(fields.get(b"t")))
            commands = _commands(fields)
            if isinstance(commands, str):  # the whole entry is unreadable
                pending.results.append(bad_command(commands))
                work.append((pending, 0, []))
            else:
                work.append((pending, 0, commands))
                size += len(commands)
            if size >= self.config.commit_commands or number == len(entries):
                self._apply(work)
                self.position = entry_id
                try:
                    self._publish()
                except redis.RedisError as error:  # kept in `unpublished`, sent when Redis answers
                    logger.warning("engine worker: could not publish acknowledgements (%s); will retry", error)
                work, size = [], 0
                self._tick()

    def _apply(self, work: list[tuple[Pending, int, list]]) -> None:
        """Decode, apply and count each command, then journal them all in one group commit.

        `work` holds `(pending, start, commands)`: an entry, the index of its first command here
        and the commands. Every per-command step is paid hundreds of thousands of times a second,
        so they run in one compiled loop (`engine.batch.apply_batch`): the engine applies a
        command as soon as it is decoded, and its events go straight into the entry's
        acknowledgement. Nothing is published before `commit_applied` returns.
        """
        payloads = apply_batch(self.durable.engine, work, self.counters)
        if payloads:
            self.durable.commit_applied(payloads)
        self.unpublished.extend(pending for pending, _, _ in work)

    def _publish(self) -> None:
        """Send every journaled acknowledgement: to the event stream and to each reply list."""
        if not self.unpublished:
            return
        # One transaction: a crash can never leave an acknowledgement on the event stream but not
        # on its reply list (recovery republishes only what the event stream lacks).
        pipeline = self.redis.pipeline(transaction=True)
        stream, maxlen = self.keys.events, self.config.events_maxlen
        for pending in self.unpublished:
            ack = pack([pending.entry_id, pending.results])
            pipeline.xadd(stream, {"a": ack}, maxlen=maxlen, approximate=True)
            if pending.reply:
                pipeline.rpush(pending.reply, ack)
                pipeline.pexpire(pending.reply, REPLY_TTL_MS)
        pipeline.execute()
        acked = time.time_ns()
        histograms = self.market_latency
        for pending in self.unpublished:
            sent = pending.sent_ns or int(pending.entry_id.partition("-")[0]) * 1_000_000
            latency = max(acked - sent, 0) / 1000
            self.latency.record(latency, max(len(pending.results), 1))
            for symbol, count in pending.markets.items():
                histogram = histograms.get(symbol)
                if histogram is None:
                    histogram = histograms[symbol] = Histogram()
                histogram.record(latency, count)
        self.unpublished.clear()

    # -- housekeeping -----------------------------------------------------------------------

    def _record_metrics(self, metrics: dict) -> None:
        """Append to the shard's metrics stream: the one-second series, kept about seven hours."""
        with contextlib.suppress(redis.RedisError):  # a second of telemetry lost with Redis
            self.redis.xadd(self.keys.metrics, {"m": pack(metrics)}, maxlen=METRICS_KEPT, approximate=True)

    def _announce(self) -> None:
        """The heartbeat others read (the gateway, /readyz): gone within two seconds of silence."""
        beat = {"pid": os.getpid(), "time": time.time(), "sequence": self.durable.engine.last_seq}
        with contextlib.suppress(redis.RedisError):  # the supervisor still hears us through the pipe
            self.redis.set(self.keys.heartbeat, pack(beat), px=HEARTBEAT_TTL_MS)

    def _trim(self) -> None:
        """Drop command entries already answered; what is left is the queue."""
        try:
            if self.position != "0-0" and not self.unpublished:
                self.redis.xtrim(self.keys.commands, minid=self.position, approximate=False)
            self.queue_depth = max(self.redis.xlen(self.keys.commands) - 1, 0)
        except redis.RedisError:
            pass

    def _settle(self) -> None:
        """Collect young garbage and freeze the survivors (every heartbeat, with automatic GC off).

        The books are long-lived containers that automatic collections would walk again and
        again (a quarter of the worker's time, measured); the core makes no reference cycles
        (tests/engine/test_core_garbage.py), so the only cyclic garbage is the loop's own, and a
        young collection ten times a second finds it while it is young. Survivors are frozen so
        no collection ever walks them again.
        """
        gc.collect(1)
        gc.freeze()

    def _snapshot_if_due(self, now: float) -> None:
        durable = self.durable
        if self.pending_snapshot is not None:
            if durable.finish_snapshot(self.pending_snapshot) is not None:
                self.pending_snapshot = None
                self.last_snapshot_time = now
            return
        changed = durable.engine.last_seq - durable.snapshot_sequence
        # Never while acknowledgements wait: a restart from this snapshot could not send them again.
        if (
            changed
            and not self.unpublished
            and (
                changed >= self.config.snapshot_every or now - self.last_snapshot_time >= self.config.snapshot_interval
            )
        ):
            self.pending_snapshot = durable.snapshot_in_background()

    def metrics(self, interval: float) -> dict:
        """One metrics snapshot: per market, per engine (DESIGN.md, "Live health")."""
        engine: Engine = self.durable.engine
        markets = {}
        totals = MarketCounters()
        for symbol in engine.symbols():
            counters = MarketCounters(*self.counters.pop(symbol, ()))
            for name in ("commands", "accepted", "rejected", "trades", "volume"):
                setattr(totals, name, getattr(totals, name) + getattr(counters, name))
            bid, ask = engine.best_bid(symbol), engine.best_ask(symbol)
            depth = engine.depth(symbol, self.config.depth_levels)
            config = engine.market_config(symbol)
            markets[symbol] = {
                "mode": engine.mode(symbol),
                "tick_size": config.tick_size,
                "lot_size": config.lot_size,
                **asdict(counters),
                "commands_per_s": round(counters.commands / interval, 1),
                "trades_per_s": round(counters.trades / interval, 1),
                "best_bid": bid,
                "best_ask": ask,
                "spread": None if bid is None or ask is None else ask - bid,
                "last_price": engine.last_price(symbol),
                "resting": engine.resting_orders(symbol),
                "depth": {"bids": depth.bids, "asks": depth.asks},
                "latency_us": self.market_latency.pop(symbol, Histogram()).summary(),
            }
        for counts in self.counters.values():  # commands naming no known market
            totals.commands += counts[0]
            totals.rejected += counts[2]
        self.counters.clear()
        self.market_latency.clear()
        latency, self.latency = self.latency.summary(), Histogram()
        journal = self.durable.journal
        return {
            "shard": self.config.shard,
            "time": time.time(),
            "interval": round(interval, 3),
            "pid": os.getpid(),
            "uptime": round(time.time() - self.started, 1),
            "rss_bytes": self.process.memory_info().rss,
            "cpu_percent": self.process.cpu_percent(),
            "last_sequence": engine.last_seq,
            "journal_bytes": sum(path.stat().st_size for path in journal.segments()),
            "snapshot_sequence": self.durable.snapshot_sequence,
            "snapshot_age": round(time.monotonic() - self.last_snapshot_time, 1),
            "queue_depth": self.queue_depth,
            **asdict(totals),
            "commands_per_s": round(totals.commands / interval, 1),
            "trades_per_s": round(totals.trades / interval, 1),
            "latency_us": latency,
            "markets": markets,
        }

    def _shutdown(self) -> None:
        """Drain: publish what is journaled, finish or write a snapshot, close the journal."""
        try:
            self._publish()
        except redis.RedisError as error:
            logger.warning("engine worker: acknowledgements left unpublished at shutdown (%s)", error)
        if self.pending_snapshot is not None:
            self.durable.finish_snapshot(self.pending_snapshot, wait=True)
        self.durable.close(snapshot=True)
        logger.info("engine worker %s stopped at sequence %d", os.getpid(), self.durable.engine.last_seq)


def _refusal(item: object, source: str) -> str:
    """Why a command without a journal record was refused (as `Worker._apply` decided it)."""
    if type(item) is not list or not item:
        return NOT_A_COMMAND
    try:
        encode_item(item, source)
    except WireError as error:
        return str(error)
    # Decodable yet not journaled before a journaled one: the journal lost it. Say so rather than apply it late.
    logger.error("engine worker: command %s is missing from the journal", source)
    return "this command was lost before it was applied; send it again"


def _commands(fields: dict) -> list | str:
    """An entry's commands, or why they cannot be read."""
    raw = fields.get(b"c")
    if raw is None:
        return "the entry has no commands (field c)"
    try:
        commands = unpack(raw)
    except Exception:  # msgpack raises several types for bad input
        return "the commands (field c) are not msgpack"
    return commands if isinstance(commands, list) else "the commands (field c) are not a list"


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode(errors="replace")


def _int(value: bytes | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _stand_by(fd: int, config: WorkerConfig) -> tuple[bool, Follower | None]:
    """Wait for the supervisor's word on `fd`, following the journal meanwhile; return (go, follower).

    Following runs at idle priority, taking only CPU the live worker leaves unused, while it is
    close behind; once more than `FOLLOW_FAR` bytes behind (the writer outran it under heavy
    load) it runs at normal priority until level again, so what is left to replay at a
    take-over stays a fraction of a second. Idle priority is used only where the process may
    leave it. Anything that goes wrong while following leaves a standby that recovers from
    cold, which then says what is wrong.
    """
    follower = None
    # No collections while following: the core makes no reference cycles (`Worker._settle`), so
    # what following discards goes by reference counting, and a collection would only walk what
    # it keeps: the events `heard` for a take-over, some 20% of a standby's CPU (perf, at 100,000
    # orders/s) for nothing. Freezing instead (O(1)) spares the worker's first young collection
    # after a take-over from walking the whole followed state.
    gc.disable()
    if config.standby_follows:
        try:
            follower = Follower(Path(config.journal_dir), config.market_configs())
        except Exception:
            logger.exception("engine standby: cannot follow the journal; a take-over will recover from cold")
    may_idle = follower is not None and _may_leave_idle()
    idle = may_idle and _set_policy(os.SCHED_IDLE)
    try:
        while not select.select([fd], [], [], _follow_wait(follower))[0]:
            try:
                follower.catch_up(FOLLOW_BUDGET)
                if follower.unread:  # behind: a newer snapshot may spare replaying up to it
                    follower.skip_to_snapshot()
            except Exception:
                logger.exception("engine standby: following failed; a take-over will recover from cold")
                follower = None
                continue
            gc.freeze()  # O(1); see above
            if idle and follower.unread > FOLLOW_FAR:
                idle = not _set_policy(os.SCHED_OTHER)
            elif may_idle and not idle and follower.unread == 0:
                idle = _set_policy(os.SCHED_IDLE)
        word = os.read(fd, 64)  # "go" or end of file
    finally:
        if idle:
            _set_policy(os.SCHED_OTHER)
        os.close(fd)
    return bool(word), follower


def _follow_wait(follower: Follower | None) -> float | None:
    if follower is None:
        return None  # nothing to do but wait
    return 0 if follower.unread else FOLLOW_INTERVAL


def _may_leave_idle() -> bool:
    """Whether this process could return from SCHED_IDLE: it needs the right to lower its nice value."""
    if os.geteuid() == 0:
        return True
    limit = resource.getrlimit(resource.RLIMIT_NICE)[0]
    return limit == resource.RLIM_INFINITY or 20 - os.getpriority(os.PRIO_PROCESS, 0) <= limit


def _set_policy(policy: int) -> bool:
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError as error:
        logger.warning("engine standby: cannot set scheduling policy %d: %s", policy, error)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one engine worker (normally started by run_engine).")
    parser.add_argument("--config", required=True, help="path of the worker's JSON configuration")
    parser.add_argument("--beat-fd", type=int, help="descriptor of the pipe to the supervisor")
    parser.add_argument("--standby-fd", type=int, help="wait for a line on this descriptor before starting")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    config = WorkerConfig.from_json(Path(args.config).read_text())
    follower = None
    if args.standby_fd is not None:  # a standby: everything imported, nothing written to
        try:
            go, follower = _stand_by(args.standby_fd, config)
        except KeyboardInterrupt:  # Ctrl-C reaches the whole process group
            return 0
        if not go:
            return 0  # the supervisor let us go unused
    try:
        return Worker(config, Beat(args.beat_fd), follower).run()
    except BrokenPipeError:
        logger.warning("engine worker: the supervisor is gone; stopping")
        return 0


if __name__ == "__main__":
    sys.exit(main())
