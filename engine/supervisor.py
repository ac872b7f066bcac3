"""The engine supervisor: keeps one shard's worker alive, and tells everyone what happened.

    python manage.py run_engine [--shard main]

It holds the shard's lease in Redis (so two supervisors never run one shard), starts the worker
(`engine.worker`) and listens to its pipe. A worker that exits, for any reason, or stops
heartbeating (hung: SIGSTOP, a livelock) is killed and started again after an exponential
backoff; five failures within a minute (configurable) is a crash loop: the supervisor stops
restarting, marks the shard `failed` and raises a critical engine event. SIGTERM or SIGINT
drain the worker (it finishes its batch and snapshots) and stop cleanly.

Every start, crash, hang, restart, recovery (commands replayed and time taken: the measured
RTO), mode change and lease change is an `EngineEvent` row, published to the Channels group
`engine.health`. Requests from the console and the API arrive on the shard's control stream,
each answered on its reply list: mode changes (relayed to the worker as commands, answered
when it acknowledges), a restart (drain the worker and start a new one; also the way out of
`failed`) and a recovery drill (run beside the loop by the recorder, `engine.telemetry`).
Telemetry (`engine.telemetry`) forwards the worker's metrics to the dashboard and rolls them up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import redis

from engine.core.events import MODE_CHANGED, REJECTED
from engine.core.types import MODES
from engine.streams import REPLY_TTL_MS, Keys, command_entry, pack, public_status, unpack
from engine.worker import WorkerConfig

logger = logging.getLogger("engine.supervisor")

STATUS_INTERVAL = 0.1  # seconds between status updates: the dashboards' heartbeat tile moves at 10 Hz

RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass
class SupervisorConfig:
    worker: WorkerConfig
    heartbeat_timeout: float = 0.5  # silence that means the worker hangs: five missed heartbeats
    startup_timeout: float = 60.0  # until the worker is ready (a large snapshot loads silently)
    backoff_initial: float = 0.1
    backoff_max: float = 10.0
    stable_after: float = 30.0  # a worker up this long resets the backoff
    crash_loop_failures: int = 5
    crash_loop_window: float = 60.0
    lease_ttl: float = 3.0
    stop_timeout: float = 30.0
    relay_timeout: float = 10.0
    standby: bool = True  # keep a started worker waiting, to restart without the interpreter's start-up


@dataclass
class Running:
    """The worker process the supervisor is watching."""

    process: subprocess.Popen
    pipe: int
    started: float
    last_heartbeat: float
    ready: bool = False
    buffer: bytes = b""


@dataclass
class Standby:
    """A worker process started ahead of need, waiting for a line on `go`."""

    process: subprocess.Popen
    pipe: int
    go: int


@dataclass
class Relay:
    """A mode change sent to the worker, waiting for its acknowledgement."""

    request: dict
    reply: str | None
    sent: float


@dataclass
class Supervisor:
    config: SupervisorConfig
    recorder: object  # engine.recorder.Recorder: record(kind, message, ...), and telemetry
    stopping: bool = False
    state: str = "starting"
    worker: Running | None = None
    restarts: int = 0
    consecutive_failures: int = 0
    failures: deque = field(default_factory=deque)
    next_start: float = 0.0
    relays: dict[str, Relay] = field(default_factory=dict)
    standby: Standby | None = None

    def __post_init__(self) -> None:
        worker = self.config.worker
        self.keys = Keys(worker.shard)
        self.redis = redis.Redis.from_url(worker.redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.relay_replies = f"{self.keys.prefix}:supervisor-replies:{self.token}"
        self.config_path = Path(worker.journal_dir).parent / f"worker-{worker.shard}.json"
        self.lease_renewed = 0.0
        self.control_position: str | None = None
        self.last_status = 0.0
        self.last_published: tuple[str, int | None] | None = None  # (state, worker pid) last published

    # -- the main loop ----------------------------------------------------------------------

    def run(self) -> int:
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._stop)
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config.worker.to_json())
        while not self.stopping:
            if not self._acquire_lease():
                break
            self._supervise()
        self._shutdown()
        return 0

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _supervise(self) -> None:
        """Run the worker while the lease is ours."""
        while not self.stopping:
            now = time.monotonic()
            if not self._renew_lease(now):
                return
            if self.worker is None and self.state != "failed" and now >= self.next_start:
                self._spawn()
            self._listen(0.05)
            self._check_worker(time.monotonic())
            self._serve_control()
            self.recorder.poll_metrics()
            self._publish_status()

    def _spawn(self) -> None:
        standby, self.standby = self.standby, None
        if standby is not None and standby.process.poll() is None:
            process, read_end = standby.process, standby.pipe
            os.write(standby.go, b"go\n")  # already started and imported: it recovers at once
            os.close(standby.go)
        else:
            if standby is not None:
                self._discard(standby)
            process, read_end = self._start_process()
        now = time.monotonic()
        self.worker = Running(process, read_end, now, now)
        self.state = "recovering"
        if self.restarts:
            self.recorder.record(
                "restarted", f"worker restarted (pid {process.pid}), restart {self.restarts}",
                severity="warning", detail={"pid": process.pid, "restarts": self.restarts},
            )  # fmt: skip
        else:
            self.recorder.record("started", f"worker started (pid {process.pid})", detail={"pid": process.pid})

    def _start_process(self, go: int | None = None) -> tuple[subprocess.Popen, int]:
        """Start a worker process; with `go`, a standby that waits for a line on that descriptor."""
        read_end, write_end = os.pipe()
        command = [sys.executable, "-m", "engine.worker", "--config", str(self.config_path)]
        command += ["--beat-fd", str(write_end)]
        descriptors = [write_end]
        if go is not None:
            command += ["--standby-fd", str(go)]
            descriptors.append(go)
        process = subprocess.Popen(command, pass_fds=descriptors)
        os.close(write_end)
        os.set_blocking(read_end, False)
        return process, read_end

    def _prepare_standby(self) -> None:
        """Keep a worker started and imported, waiting: a restart then skips the interpreter's start.

        Started only once the worker is ready, so it never competes with a recovery for the CPU.
        """
        if self.standby is not None or not self.config.standby:
            return
        go_read, go_write = os.pipe()
        process, read_end = self._start_process(go=go_read)
        os.close(go_read)
        self.standby = Standby(process, read_end, go_write)

    def _discard(self, standby: Standby) -> None:
        os.close(standby.go)  # end of file: a waiting standby leaves
        with contextlib.suppress(subprocess.TimeoutExpired):
            standby.process.wait(timeout=5)
        if standby.process.poll() is None:
            standby.process.kill()
            standby.process.wait()
        os.close(standby.pipe)

    def _listen(self, timeout: float) -> None:
        worker = self.worker
        if worker is None:
            time.sleep(timeout)
            return
        with contextlib.suppress(InterruptedError):
            readable, _, _ = select.select([worker.pipe], [], [], timeout)
            if not readable:
                return
        try:
            data = os.read(worker.pipe, 65536)
        except BlockingIOError:
            return
        if not data:  # the worker closed its end: it has exited (or is about to)
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=1)
            return
        lines = (worker.buffer + data).split(b"\n")
        worker.buffer = lines.pop()
        for line in lines:
            if line == b"h":
                worker.last_heartbeat = time.monotonic()
            elif line:
                self._message(json.loads(line))

    def _message(self, message: dict) -> None:
        if message.get("type") != "ready":
            return
        worker, recovery = self.worker, message["recovery"]
        startup = round(time.monotonic() - worker.started, 3)
        worker.ready = True
        worker.last_heartbeat = time.monotonic()
        self.state = "running"
        self._prepare_standby()
        lost = recovery.get("lost_acknowledged", 0)
        self.recorder.record(
            "recovered",
            f"recovered to sequence {recovery['last_sequence']}"
            + (" by the standby that followed the journal" if recovery.get("standby") else "")
            + f": {recovery['replayed']:,} commands replayed in {recovery['seconds']:.3f} s"
            + (f"; {lost:,} ACKNOWLEDGED COMMANDS LOST" if lost else ""),
            severity="critical" if lost else "info",
            detail={**recovery, "pid": message.get("pid"), "startup_seconds": startup},
        )

    def _check_worker(self, now: float) -> None:
        worker = self.worker
        if worker is None:
            return
        code = worker.process.poll()
        if code is not None:
            self._reap()
            if self.stopping:  # Ctrl-C reaches the worker too: it drained and left
                self.recorder.record("stopped", f"worker {worker.process.pid} stopped", detail={"exit_code": code})
                return
            how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
            self.recorder.record(
                "crashed", f"worker {worker.process.pid} {how}", severity="critical",
                detail={"pid": worker.process.pid, "exit_code": code if code >= 0 else None,
                        "signal": -code if code < 0 else None, "uptime": round(now - worker.started, 3)},
            )  # fmt: skip
            self._failed(now)
            return
        silent = now - worker.last_heartbeat
        limit = self.config.heartbeat_timeout if worker.ready else self.config.startup_timeout
        if silent > limit:
            worker.process.kill()  # SIGKILL works on a stopped process too
            worker.process.wait()
            self._reap()
            self.recorder.record(
                "hung", f"worker {worker.process.pid} silent for {silent:.1f} s: killed", severity="critical",
                detail={"pid": worker.process.pid, "silent_seconds": round(silent, 3), "ready": worker.ready},
            )  # fmt: skip
            self._failed(now)
        elif worker.ready and now - worker.started >= self.config.stable_after:
            self.consecutive_failures = 0

    def _reap(self) -> None:
        os.close(self.worker.pipe)
        self.worker = None
        self.state = "restarting"

    def _failed(self, now: float) -> None:
        """Count a failure; restart after a backoff, or stop restarting in a crash loop."""
        self.failures.append(now)
        while self.failures and now - self.failures[0] > self.config.crash_loop_window:
            self.failures.popleft()
        if len(self.failures) >= self.config.crash_loop_failures:
            self.state = "failed"
            self.recorder.record(
                "crash_loop",
                f"{len(self.failures)} failures in {self.config.crash_loop_window:.0f} s: not restarting",
                severity="critical",
                detail={"failures": len(self.failures), "window_seconds": self.config.crash_loop_window},
            )
            return
        self.consecutive_failures += 1
        self.restarts += 1
        # The first restart is immediate (that is the RTO); then 0.1 s, 0.2 s, ... up to backoff_max.
        exponent = self.consecutive_failures - 2
        delay = 0.0 if exponent < 0 else min(self.config.backoff_initial * 2**exponent, self.config.backoff_max)
        self.next_start = now + delay

    # -- lease ------------------------------------------------------------------------------

    def _acquire_lease(self) -> bool:
        """Wait until the shard's lease is ours; False if told to stop first."""
        ttl_ms, waiting_logged = int(self.config.lease_ttl * 1000), False
        while not self.stopping:
            try:
                if self.redis.set(self.keys.lease, self.token, nx=True, px=ttl_ms):
                    self.lease_renewed = time.monotonic()
                    message = f"lease acquired by {self.token}"
                    self.recorder.record("lease_acquired", message, detail={"holder": self.token})
                    return True
                holder = self.redis.get(self.keys.lease)
                if not waiting_logged:
                    logger.warning("engine shard %s is held by %s; waiting for its lease", self.keys.shard, holder)
                    waiting_logged = True
                self._publish_status(state="waiting", holder=holder.decode() if holder else None)
            except redis.RedisError as error:
                logger.warning("engine supervisor: Redis unavailable (%s)", error)
            time.sleep(self.config.lease_ttl / 3)
        return False

    def _renew_lease(self, now: float) -> bool:
        """Keep the lease; on losing it, stop the worker at once and say so (False)."""
        if now - self.lease_renewed < self.config.lease_ttl / 3:
            return True
        try:
            held = self.redis.eval(RENEW, 1, self.keys.lease, self.token, int(self.config.lease_ttl * 1000))
        except redis.RedisError as error:
            if now - self.lease_renewed < self.config.lease_ttl:
                return True  # Redis may come back before the lease could have expired
            held, why = 0, f"could not be renewed for {now - self.lease_renewed:.1f} s ({error})"
        else:
            why = "taken by another supervisor"
        if held:
            self.lease_renewed = now
            return True
        self._stop_worker(kill=True)
        self.recorder.record("lease_lost", f"lease {why}: worker stopped", severity="critical", detail={"why": why})
        self.state = "waiting"
        return False

    # -- mode changes -----------------------------------------------------------------------

    def _serve_control(self) -> None:
        """Relay mode change requests to the worker; answer them when it acknowledges."""
        try:
            if self.control_position is None:
                last = self.redis.xrevrange(self.keys.control, count=1)
                self.control_position = last[0][0].decode() if last else "0-0"  # older requests are stale
            found = self.redis.xread({self.keys.control: self.control_position}, count=32)
            for raw_id, fields in found[0][1] if found else []:
                self.control_position = raw_id.decode()
                self._relay(fields)
            self._collect_relays()
        except redis.RedisError as error:
            logger.warning("engine supervisor: control stream unavailable (%s)", error)

    def _relay(self, fields: dict) -> None:
        reply = fields.get(b"r", b"").decode() or None
        try:
            request = unpack(fields[b"m"])
            action = request.get("action", "mode")
        except Exception:
            self._answer(reply, ok=False, error="malformed control request")
            return
        if action == "restart":
            self._restart(request, reply)
        elif action == "drill":
            self._drill(request, reply)
        elif action == "mode":
            self._change_mode(request, reply)
        else:
            self._answer(reply, ok=False, error=f"unknown action {action!r}: mode, restart or drill")

    def _change_mode(self, request: dict, reply: str | None) -> None:
        try:
            symbol, mode = request["symbol"], request["mode"]
            cancel_resting = bool(request.get("cancel_resting", False))
        except Exception:
            self._answer(reply, ok=False, error="malformed mode change request")
            return
        if mode not in MODES:
            self._answer(reply, ok=False, error=f"mode must be one of {', '.join(MODES)}")
        elif self.worker is None or not self.worker.ready:
            self._answer(reply, ok=False, error=f"the engine is {self.state}: try again when it runs")
        else:
            entry = command_entry([[6, symbol, mode, cancel_resting]], self.relay_replies)
            entry_id = self.redis.xadd(self.keys.commands, entry)
            self.relays[entry_id.decode()] = Relay(request, reply, time.monotonic())

    def _restart(self, request: dict, reply: str | None) -> None:
        """Drain the worker and start a new one at once; from `failed`, start again with a clean slate."""
        who = request.get("actor") or "an operator"
        reason = str(request.get("reason") or "")
        worker, previous = self.worker, self.state
        if worker is not None:
            pid = worker.process.pid
            self._stop_worker()
            self.recorder.record(
                "stopped", f"worker {pid} stopped for a restart asked by {who}", severity="warning",
                detail={"pid": pid, "requested": True}, actor_id=request.get("actor_id"), reason=reason,
            )  # fmt: skip
        else:
            self.recorder.record(
                "restart_requested", f"restart asked by {who} while {self.state}", severity="warning",
                detail={"previous_state": self.state}, actor_id=request.get("actor_id"), reason=reason,
            )  # fmt: skip
        self.state = "restarting"
        self.failures.clear()
        self.consecutive_failures = 0
        self.restarts += 1
        self.next_start = time.monotonic()
        self._answer(reply, ok=True, previous_state=previous, state=self.state)

    def _drill(self, request: dict, reply: str | None) -> None:
        if self.worker is None or not self.worker.ready:
            self._answer(reply, ok=False, error=f"the engine is {self.state}: a drill needs it running")
            return
        error = self.recorder.start_drill(
            str(request.get("fault")), actor_id=request.get("actor_id"), reason=str(request.get("reason") or "")
        )
        self._answer(reply, ok=error is None, error=error, fault=request.get("fault"))

    def _collect_relays(self) -> None:
        if not self.relays:
            return
        while (raw := self.redis.lpop(self.relay_replies)) is not None:
            entry_id, results = unpack(raw)
            relay = self.relays.pop(entry_id, None)
            if relay is not None:
                self._relayed(relay, results[0])
        now = time.monotonic()
        for entry_id, relay in list(self.relays.items()):
            if now - relay.sent > self.config.relay_timeout:
                del self.relays[entry_id]
                self._answer(relay.reply, ok=False, error="the engine did not acknowledge the mode change in time")

    def _relayed(self, relay: Relay, events: list) -> None:
        request = relay.request
        first = events[0]
        if first[-1] == REJECTED:
            self._answer(relay.reply, ok=False, error=first[2], events=events)
            return
        change = next((event for event in events if event[-1] == MODE_CHANGED), None)
        previous = change[2] if change else request["mode"]
        cancelled = sum(1 for event in events if event[-1] == "cancelled")
        mode = request["mode"]
        if change is not None:
            self.recorder.record(
                "mode_changed",
                f"{request['symbol']}: {previous} -> {request['mode']}"
                + (f", {cancelled} resting orders cancelled" if cancelled else ""),
                severity="warning" if request["mode"] != "open" else "info",
                detail={"symbol": request["symbol"], "previous": previous, "mode": mode, "cancelled": cancelled},
                actor_id=request.get("actor_id"),
                reason=str(request.get("reason") or ""),
            )
        self._answer(relay.reply, ok=True, previous=previous, mode=request["mode"], events=events)

    def _answer(self, reply: str | None, *, ok: bool, error: str | None = None, **body: object) -> None:
        if reply is None:
            return
        answer = {"ok": ok, "error": error, "previous": None, "mode": None, "events": [], **body}
        pipeline = self.redis.pipeline(transaction=False)
        pipeline.rpush(reply, pack(answer))
        pipeline.pexpire(reply, REPLY_TTL_MS)
        pipeline.execute()

    # -- status and shutdown ----------------------------------------------------------------

    def _publish_status(self, state: str | None = None, **extra: object) -> None:
        """Keep the status key fresh and tell the dashboards, ten times a second.

        At once when the state or the worker changed: a standby takes over in milliseconds, and a
        status older than that would show the new state's predecessor (or the old worker).
        """
        now = time.monotonic()
        worker = self.worker
        published = (state or self.state, worker.process.pid if worker else None)
        if published == self.last_published and now - self.last_status < STATUS_INTERVAL:
            return
        self.last_status, self.last_published = now, published
        status = {
            "state": published[0],
            "supervisor": self.token,
            "worker_pid": published[1],
            "heartbeat_age": round(now - worker.last_heartbeat, 3) if worker else None,
            "uptime": round(now - worker.started, 1) if worker else None,
            "restarts": self.restarts,
            "journal_dir": self.config.worker.journal_dir,
            "time": time.time(),
            **extra,
        }
        with contextlib.suppress(redis.RedisError):
            self.redis.set(self.keys.status, pack(status), px=5_000)
        self.recorder.status(public_status(status))

    def _stop_worker(self, *, kill: bool = False) -> None:
        worker = self.worker
        if worker is None:
            return
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signal.SIGCONT)  # a stopped worker cannot drain
            worker.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            worker.process.wait(timeout=self.config.stop_timeout)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
        self._reap()

    def _shutdown(self) -> None:
        self.recorder.poll_metrics()
        self.recorder.flush()
        if self.standby is not None:
            self._discard(self.standby)
            self.standby = None
        worker = self.worker
        if worker is not None:
            pid = worker.process.pid
            self._stop_worker()
            self.recorder.record("stopped", f"worker {pid} stopped", detail={"pid": pid})
        with contextlib.suppress(redis.RedisError):
            self.redis.eval(RELEASE, 1, self.keys.lease, self.token)
            self.redis.set(self.keys.status, pack({"state": "stopped", "time": time.time()}), px=60_000)
