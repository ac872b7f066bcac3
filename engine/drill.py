"""Recovery drills: inject a fault into the running engine under simulated load, measure RTO and RPO.

    python manage.py engine_drill crash|hang|redis

- crash: SIGKILL the worker; the supervisor restarts it and it recovers from its journal.
- hang: SIGSTOP the worker; the supervisor sees the heartbeats stop, kills and restarts it.
- redis: restart Redis (the embedded one, or with the command given); the worker reconnects.

RTO is the time from the fault to the first acknowledgement of a command the engine applied
after it (an acknowledgement carries sequence numbers: one above the journal's last record at
the moment of the fault can only come from the recovered engine). RPO is the number of commands
the simulator was told were applied (its record of acknowledgements) that the journal does not
hold at the sequence number it was given: it must be 0. Commands applied twice are counted too.
Each run is stored as a `DrillResult` and shows in `/metrics`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from engine.core.wire import decode
from engine.journal import Journal, JournalError
from engine.models import DrillResult
from engine.simulator import SimulatedMarket, Simulator
from engine.streams import Keys, unpack
from exchange_console.embedded_redis import EmbeddedRedis

RTO_BAR_SECONDS = 1.0  # issue 4, with snapshots on their default schedule


class DrillError(RuntimeError):
    """The drill cannot run (no engine, a Redis it cannot restart...)."""


@dataclass
class DrillPlan:
    fault: str
    shard: str
    redis_url: str
    markets: list[SimulatedMarket]
    rate: float = 2_000.0
    warmup: float = 3.0
    after: float = 2.0  # seconds of load after recovery
    timeout: float = 60.0  # longest wait for recovery
    restart_redis: Callable[[Callable[[], None]], None] | None = None  # calls its argument while Redis is down


def run_drill(plan: DrillPlan, say: Callable[[str], None] = print) -> DrillResult:
    keys = Keys(plan.shard)
    connection = redis.Redis.from_url(plan.redis_url, socket_timeout=5)
    status = _status(connection, keys)
    if status.get("state") != "running" or not status.get("worker_pid"):
        raise DrillError(f"the engine of shard {plan.shard!r} is not running (state {status.get('state')!r})")
    if plan.fault == "redis" and plan.restart_redis is None:
        raise DrillError("cannot restart this Redis: pass --redis-restart-command, or use the embedded Redis")
    journal_dir = Path(status["journal_dir"])
    simulator = Simulator(plan.redis_url, plan.shard, plan.markets, rate=plan.rate, keep_acks=True, seed=7)
    stop = threading.Event()
    flow = threading.Thread(target=lambda: simulator.run(None, should_stop=stop.is_set), daemon=True)
    flow.start()
    try:
        time.sleep(plan.warmup)
        say(f"drill {plan.fault}: load running, {simulator.progress.acked:,} orders acknowledged; injecting the fault")
        faulted, fault_sequence = _inject(plan, status["worker_pid"], journal_dir)
        recovered_at = _first_ack_after(simulator, fault_sequence, faulted, plan.timeout)
        rto = None if recovered_at is None else recovered_at - faulted
        say(
            f"drill {plan.fault}: " + (f"first acknowledgement after {rto:.3f} s" if rto is not None else "no recovery")
        )
        time.sleep(plan.after)
    finally:
        stop.set()
        flow.join()
    drained = simulator.drain(timeout=30.0)
    check = verify(simulator.acks, journal_dir)
    passed = check["rpo"] == 0 and check["doubled"] == 0 and rto is not None and rto <= RTO_BAR_SECONDS
    result = DrillResult.objects.create(
        shard=plan.shard,
        fault=plan.fault,
        rto_seconds=rto,
        rpo_orders=check["rpo"],
        acknowledged=check["acknowledged"],
        passed=passed,
        detail={
            **check,
            "fault_sequence": fault_sequence,
            "rate": plan.rate,
            "sent": simulator.progress.sent,
            "rejected": simulator.progress.rejected,
            "unanswered_entries": simulator.in_flight,
            "drained": drained,
            "rto_bar_seconds": RTO_BAR_SECONDS,
        },
    )
    return result


def _status(connection: redis.Redis, keys: Keys) -> dict:
    raw = connection.get(keys.status)
    return unpack(raw) if raw else {}


def _inject(plan: DrillPlan, pid: int, journal_dir: Path) -> tuple[float, int]:
    """Cause the fault; return its time and the journal's last sequence number at that moment."""
    if plan.fault == "crash":
        os.kill(pid, signal.SIGKILL)
        faulted = time.monotonic()
    elif plan.fault == "hang":
        os.kill(pid, signal.SIGSTOP)
        faulted = time.monotonic()
    elif plan.fault == "redis":
        faulted, down = time.monotonic(), []
        plan.restart_redis(lambda: down.append(last_sequence(journal_dir)))
        return faulted, down[0]
    else:
        raise DrillError(f"unknown fault {plan.fault!r}: crash, hang or redis")
    # Killed or stopped, the worker writes nothing more.
    return faulted, last_sequence(journal_dir)


def last_sequence(journal_dir: Path) -> int:
    sequence = 0
    for record in Journal(journal_dir).records(cut_torn_tail=False):
        sequence = record.sequence
    return sequence


def _first_ack_after(simulator: Simulator, sequence: int, since: float, timeout: float) -> float | None:
    """When the simulator first received an acknowledgement of a command applied after `sequence`."""
    deadline, checked = since + timeout, set()
    while time.monotonic() < deadline:
        for entry_id, (received, results) in list(simulator.acks.items()):
            if entry_id in checked:
                continue
            checked.add(entry_id)
            if received >= since and any(events[0][0] is not None and events[0][0] > sequence for events in results):
                return received
        time.sleep(0.005)
    return None


def verify(acks: dict[str, tuple[float, list]], journal_dir: Path) -> dict[str, int]:
    """Check the client's record against the journal: every acknowledged command where it was said to be."""
    sources: dict[int, str] = {}
    seen: set[str] = set()
    doubled = 0
    try:
        for record in Journal(journal_dir).records(cut_torn_tail=False):
            source = decode(record.payload)[1]
            sources[record.sequence] = source
            if source in seen:
                doubled += 1
            seen.add(source)
    except JournalError as error:
        raise DrillError(f"the journal cannot be read to verify the drill: {error}") from error
    first = min(sources, default=1)
    acknowledged = missing = unverifiable = 0
    for entry_id, (_, results) in acks.items():
        for index, events in enumerate(results):
            sequence = events[0][0]
            if sequence is None:  # refused before the engine: nothing was promised
                continue
            acknowledged += 1
            if sequence < first:
                unverifiable += 1  # pruned behind a snapshot: the journal no longer holds it
            elif sources.get(sequence) != f"{entry_id}/{index}":
                missing += 1
    return {"acknowledged": acknowledged, "rpo": missing, "doubled": doubled, "unverifiable": unverifiable}


def embedded_redis_restarter(directory: Path) -> Callable[[Callable[[], None]], None]:
    """Restart the embedded Redis kept in `directory`: SHUTDOWN (it saves), then start it on the same port."""
    server = EmbeddedRedis(directory)

    def restart(while_down: Callable[[], None]) -> None:
        port = server.port
        server.stop()
        deadline = time.monotonic() + 10
        while server.is_up() and time.monotonic() < deadline:
            time.sleep(0.01)
        while_down()
        server.ensure_daemon()
        if server.port != port:
            raise DrillError(f"the embedded Redis came back on port {server.port}, not {port}")

    return restart


def command_restarter(command: str) -> Callable[[Callable[[], None]], None]:
    """Restart Redis with an operator-given shell command (e.g. `systemctl restart redis`)."""

    def restart(while_down: Callable[[], None]) -> None:
        while_down()  # the command stops and starts in one go: the sequence is read before it
        subprocess.run(command, shell=True, check=True)  # noqa: S602 (the operator's own command)

    return restart
