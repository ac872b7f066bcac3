"""Benchmark: the live dashboard's websocket fan-out at 10 Hz, against a bare `websockets` broadcast server.

    .venv/bin/python benchmarks/dashboard_fanout.py                  # 1,000 and 2,000 clients, 20 s each
    .venv/bin/python benchmarks/dashboard_fanout.py --clients 1000,2000 --seconds 20 --workers 2
    .venv/bin/python benchmarks/dashboard_fanout.py --clients 2000 --workers 1 --only system

For each number of clients N, `--client-procs` client processes open N websockets between them
on loopback (at most 8 handshakes in flight per process) with the `websockets` library (its
sans-I/O `ClientProtocol` fed from each socket's callback, so the clients take as little of the
machine as they can; `--client asyncio`: its asyncio client, a task per connection), and record
for every `status` message its sequence number and the time from its `ts` (the producer's clock
when it sent it) to its receipt. Once every client is connected, the producer sends `--warmup`
seconds of messages (not counted), then `--seconds` of measured messages at `--rate` per second;
the clients keep listening `--drain` seconds more. Delivered = measured messages received /
(measured messages sent x N).

Reference, in the same run and with the same clients: a bare `websockets` asyncio server in one
process, `websockets.broadcast()` to every connection from a producer in the same process.
System: uvicorn as in the Procfile (`--workers`, deflate off) serving `/ws/engine/health/`
(`engine.consumers`), every client logged in as a viewer (its own session cookie, Origin
checked), fed by the real producer (`engine.health.HealthPublisher`) through the Redis pub/sub
channel layer. Everything is private: a temporary VAR_DIR and SQLite database, an embedded Redis
on a free port, servers on 127.0.0.1. Both servers run on uvloop (uvicorn picks it itself).

CPU columns are seconds of CPU per second while the producer runs (warm-up included): the
server's processes (uvicorn's and its workers', or the reference's including its producer),
Redis, all the client processes together (on this 2-core machine they compete with the server),
and the producer (the benchmark's own process for the system).
`others` is the rest of the machine's busy cores: other people's work (and interrupts): on a
shared machine read a row only together with it; `--wait-quiet` waits for a quiet moment first.
`--timeline` adds p50/p99/max for every second of each run (a growing backlog shows there).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import psutil
import uvloop
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.typing import Origin
from websockets.uri import parse_uri

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATH = "/ws/engine/health/"
SHARD = "bench"
HANDSHAKES_IN_FLIGHT = 8  # per client process: the stagger of the connections
SPAWN = multiprocessing.get_context("spawn")  # the parent runs threads (the producer's loop): no fork


def raise_file_limit() -> None:
    """Allow as many open files as the hard limit does (each websocket is one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, *, timeout: float, alive: Callable[[], bool]) -> None:
    """Wait until something accepts connections on the port; fail if the server died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if not alive():
            raise RuntimeError(f"the server on port {port} exited before listening")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


# -- the messages ---------------------------------------------------------------------------


def status_data(tick: int, token: str, started: float) -> dict:
    """A supervisor status (`engine.supervisor._publish_status`) with a few more fields: ~400 bytes framed."""
    now = time.time()
    return {
        "state": "running",
        "supervisor": token,
        "worker_pid": 48213,
        "heartbeat_age": round(0.004 + (tick % 7) * 0.013, 3),
        "uptime": round(now - started + 3600, 1),
        "restarts": 2,
        "time": now,
        "mode": "open",
        "standby_pid": 48230,
        "lease": {"holder": token, "ttl": 3.0, "renewed_age": round((tick % 10) * 0.1, 1)},
        "journal": {"last_seq": 1_250_000 + tick * 271, "snapshot_age": round((tick % 300) / 10, 1)},
        "queue_depth": tick % 17,
    }


def envelope(seq: int, data: dict) -> str:
    """The reference's frame: the same JSON as `engine.health.frame`, without importing Django."""
    message = {"v": 1, "type": "status", "seq": seq, "ts": time.time(), "shard": SHARD, "data": data}
    return json.dumps(message, separators=(",", ":"), default=str)


@dataclass
class Window:
    """What the producer sent in the measured window."""

    first_seq: int
    last_seq: int
    sent: int
    size: int  # bytes of one frame


def schedule(rate: float, count: int, started: float) -> Iterator[tuple[int, float]]:
    """Tick numbers with the monotonic times they are due at."""
    for tick in range(count):
        yield tick, started + tick / rate


# -- the clients ----------------------------------------------------------------------------


@dataclass
class Received:
    """One connection's measurements: sequence numbers and latencies (s) of its status messages."""

    seqs: array = field(default_factory=lambda: array("q"))
    latencies: array = field(default_factory=lambda: array("d"))
    closed_early: bool = False


def client_process(port: int, cookies: list[str], kind: str, ready: multiprocessing.Queue, stop, results) -> None:
    """Open one websocket per cookie, record what arrives until `stop` is set, report it."""
    raise_file_limit()
    received, errors = uvloop.run(_client_main(port, cookies, kind, ready, stop))
    results.put(([(r.seqs, r.latencies, r.closed_early) for r in received], dict(errors)))


async def _client_main(port: int, cookies: list[str], kind: str, ready, stop) -> tuple[list[Received], Counter]:
    gate = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
    received = [Received() for _ in cookies]
    errors: Counter = Counter()
    opener = _open_sansio if kind == "sansio" else _open_asyncio
    opened = await asyncio.gather(*(opener(port, c, r, gate, errors) for c, r in zip(cookies, received, strict=True)))
    ready.put((sum(closer is not None for closer in opened), dict(errors)))
    while not stop.is_set():
        await asyncio.sleep(0.1)
    for closer in opened:
        if closer is not None:
            closer()
    return received, errors


def _take(payload: bytes | str, now: float, into: Received) -> None:
    """Record a status message's seq and latency (the producer writes `{"v":1,"type":..,"seq":..,"ts":..`)."""
    if isinstance(payload, str):
        payload = payload.encode()
    if not payload.startswith(b'{"v":1,"type":"status",'):
        return
    start = payload.find(b'"seq":') + 6
    end = payload.find(b",", start)
    into.seqs.append(int(payload[start:end]))
    start = payload.find(b'"ts":', end) + 5
    into.latencies.append(now - float(payload[start : payload.find(b",", start)]))


class Listener(asyncio.Protocol):
    """One client on websockets' own client protocol (sans I/O), fed straight from the socket: no task per client."""

    def __init__(self, port: int, cookie: str, into: Received, opened: asyncio.Future) -> None:
        self.ws = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}{PATH}"), origin=Origin(f"http://127.0.0.1:{port}"))
        self.request = self.ws.connect()
        self.request.headers["Cookie"] = f"sessionid={cookie}"
        self.into, self.opened = into, opened
        self.transport: asyncio.Transport | None = None
        self.stopping = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ws.send_request(self.request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    _take(event.data, now, self.into)
            elif not self.opened.done():  # the handshake's response
                if self.ws.handshake_exc is None:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(self.ws.handshake_exc)
        self._flush()

    def _flush(self) -> None:
        for data in self.ws.data_to_send():  # the request, pongs, the close handshake
            if data and self.transport is not None:
                self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake ({exc})"))
        elif not self.stopping and not self.opened.cancelled() and self.opened.exception() is None:
            self.into.closed_early = True  # an open connection the server closed

    def abort(self) -> None:
        self.stopping = True
        if self.transport is not None:
            self.transport.abort()


async def _open_sansio(port: int, cookie: str, into: Received, gate: asyncio.Semaphore, errors: Counter):
    loop = asyncio.get_running_loop()
    async with gate:
        opened = loop.create_future()
        try:
            _, listener = await loop.create_connection(lambda: Listener(port, cookie, into, opened), "127.0.0.1", port)
            await asyncio.wait_for(opened, 120)
        except Exception as error:
            errors[f"{type(error).__name__}: {error}"[:120]] += 1
            return None
        return listener.abort


async def _open_asyncio(port: int, cookie: str, into: Received, gate: asyncio.Semaphore, errors: Counter):
    async with gate:
        try:
            ws = await connect(
                f"ws://127.0.0.1:{port}{PATH}",
                origin=Origin(f"http://127.0.0.1:{port}"),
                additional_headers={"Cookie": f"sessionid={cookie}"},
                compression=None,
                ping_interval=None,  # browsers do not ping; the servers still do
                open_timeout=120,
            )
        except Exception as error:
            errors[f"{type(error).__name__}: {error}"[:120]] += 1
            return None
    task = asyncio.create_task(_listen(ws, into))

    def close() -> None:
        task.cancel()
        ws.transport.abort()

    return close


async def _listen(ws: ClientConnection, into: Received) -> None:
    try:
        async for text in ws:
            _take(text, time.time(), into)
    except websockets.ConnectionClosed:
        into.closed_early = True


# -- the reference server -------------------------------------------------------------------


def reference_process(port: int, control: Connection, rate: float, warmup: float, seconds: float) -> None:
    """Serve websockets and broadcast the producer's frames to every connection, on command."""
    raise_file_limit()
    uvloop.run(_reference_main(port, control, rate, warmup, seconds))


async def _reference_main(port: int, control: Connection, rate: float, warmup: float, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    connections: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096):
        await loop.run_in_executor(None, control.recv)  # "go"
        control.send(await _reference_produce(connections, rate, warmup, seconds))
        await loop.run_in_executor(None, control.recv)  # "stop"


async def _reference_produce(connections: set[ServerConnection], rate: float, warmup: float, seconds: float) -> Window:
    token = f"bench:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    started, wall = time.monotonic(), time.time()
    skip, count = round(warmup * rate), round((warmup + seconds) * rate)
    size = 0
    for tick, due in schedule(rate, count, started):
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        text = envelope(tick + 1, status_data(tick, token, wall))
        broadcast(connections, text)
        size = len(text)
    return Window(skip + 1, count, count - skip, size)


# -- the system: Django, sessions, uvicorn, the real producer ------------------------------


def setup_django(directory: Path) -> tuple[object, str]:
    """Start a private Redis, point Django at a temporary VAR_DIR and SQLite database; return (redis, url)."""
    os.environ["VAR_DIR"] = str(directory / "var")
    from exchange_console.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(directory / "redis")
    server.ensure_daemon()
    os.environ.update(
        REDIS_URL=server.url,
        DATABASE_URL=f"sqlite:///{directory / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="exchange_console.settings",
        DEBUG="false",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return server, server.url


def viewer_sessions(count: int) -> list[str]:
    """Create a viewer and `count` logged-in sessions of it; return their keys."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from console import services
    from console.models import AuditEntry
    from console.permissions import Role

    services.ensure_role_groups()
    user = services.create_user(
        username="bench-viewer", role=Role.VIEWER, password=None, by=None, source=AuditEntry.Source.SYSTEM
    )
    data = SessionStore().encode(
        {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": user.get_session_auth_hash(),
        }
    )
    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    keys = [get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(count)]
    Session.objects.bulk_create([Session(session_key=key, session_data=data, expire_date=expires) for key in keys])
    assert settings.SESSION_COOKIE_NAME == "sessionid"
    return keys


def start_uvicorn(app: str, port: int, workers: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "uvicorn", app,
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--lifespan", "off", "--ws-per-message-deflate", "false", "--no-server-header",
        "--log-level", "warning", "--backlog", "4096",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log, "ab") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)


def system_produce(redis_url: str, rate: float, warmup: float, seconds: float) -> Window:
    """Publish statuses through `engine.health.HealthPublisher` (as the supervisor does) on schedule."""
    import redis

    from engine.health import HealthPublisher

    publisher = HealthPublisher(SHARD, redis.Redis.from_url(redis_url))
    token = f"bench:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    started, wall = time.monotonic(), time.time()
    skip, count = round(warmup * rate), round((warmup + seconds) * rate)
    seqs: list[int] = []
    size = 0
    for tick, due in schedule(rate, count, started):
        time.sleep(max(0.0, due - time.monotonic()))
        text = publisher.publish("status", status_data(tick, token, wall))
        if text is not None:
            seqs.append(json.loads(text)["seq"])
            size = len(text)
        elif tick >= skip:
            seqs.append(-1)  # dropped by the producer: counted as sent, never received
    publisher.close()
    measured = [seq for seq in seqs[skip:] if seq > 0]
    if publisher.dropped:
        print(f"# producer dropped {publisher.dropped} message(s)")
    return Window(min(measured), max(measured), count - skip, size)


# -- one measurement ------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    clients: int
    connected: int
    window: Window
    latencies: list[float]  # seconds, every measured receipt
    received: int
    complete: int  # connections that got every measured message
    closed_early: int
    cpu: dict[str, float]  # seconds of CPU per second of the window
    errors: dict[str, int]
    note: str = ""
    gaps: int = 0  # messages missing before the last one their connection got: skipped, not late
    timeline: list[list[float]] = field(default_factory=list)  # latencies (s) by second of the window

    @property
    def delivered(self) -> float:
        return self.received / (self.window.sent * self.clients)

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        return self.latencies[min(len(self.latencies) - 1, int(fraction * len(self.latencies)))] * 1000


def cpu_seconds(processes: list[psutil.Process]) -> tuple[float, float]:
    """CPU seconds the processes have used so far: (user, kernel)."""
    user = kernel = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            user, kernel = user + times.user, kernel + times.system
    return user, kernel


def machine_busy() -> float:
    """CPU seconds every core of the machine has spent busy so far (anyone's work, interrupts included)."""
    times = psutil.cpu_times()
    return (
        sum(times)
        - times.idle
        - getattr(times, "iowait", 0.0)
        - getattr(times, "guest", 0.0)
        - getattr(times, "guest_nice", 0.0)
    )


def family(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def run_clients(
    name: str, port: int, cookies: list[str], args: argparse.Namespace, produce: Callable[[], Window],
    watched: dict[str, list[psutil.Process]], note: Callable[[], str] = lambda: "",
) -> Row:  # fmt: skip
    """Connect the clients, run the producer, collect and reduce the measurements."""
    ready, results, stop = SPAWN.Queue(), SPAWN.Queue(), SPAWN.Event()
    shares = [cookies[index :: args.client_procs] for index in range(args.client_procs)]
    clients = [
        SPAWN.Process(target=client_process, args=(port, share, args.client, ready, stop, results)) for share in shares
    ]
    for process in clients:
        process.start()
    connected, errors = 0, Counter()
    try:
        for _ in clients:
            count, failed = ready.get(timeout=300)
            connected += count
            errors.update(failed)
        time.sleep(1.0)  # let the last handshakes' work settle
        watched = {**watched, "clients": [psutil.Process(process.pid) for process in clients]}
        watched["producer"] = [psutil.Process()]
        before = {key: cpu_seconds(processes) for key, processes in watched.items()}
        busy_before, producing = machine_busy(), time.monotonic()
        window = produce()
        busy_after, producing = machine_busy(), time.monotonic() - producing
        after = {key: cpu_seconds(processes) for key, processes in watched.items()}
        extra = note()
        time.sleep(args.drain)
    finally:
        stop.set()
    reports = [results.get(timeout=120) for _ in clients]
    for process in clients:
        process.join(timeout=30)
    cpu = {key: (sum(after[key]) - sum(before[key])) / producing for key in watched}  # warm-up included
    cpu |= {f"{key} kernel": (after[key][1] - before[key][1]) / producing for key in watched}
    cpu["machine"] = (busy_after - busy_before) / producing
    cpu["others"] = cpu["machine"] - sum(cpu[key] for key in ("server", "redis", "clients", "producer") if key in cpu)
    row = reduce(name, len(cookies), connected, window, reports, cpu, errors, extra)
    row.timeline = timeline(window, reports, max(1, round(args.rate))) if args.timeline else []
    return row


def reduce(
    name: str, clients: int, connected: int, window: Window, reports: list, cpu: dict[str, float],
    errors: Counter, note: str,
) -> Row:  # fmt: skip
    latencies: list[float] = []
    received = complete = closed_early = gaps = 0
    for connections, _ in reports:
        for seqs, lats, closed in connections:
            got = {seq for seq in seqs if window.first_seq <= seq <= window.last_seq}
            gaps += max(got, default=window.first_seq - 1) - window.first_seq + 1 - len(got)
            latencies.extend(
                lat for seq, lat in zip(seqs, lats, strict=True) if window.first_seq <= seq <= window.last_seq
            )
            received += len(got)
            complete += len(got) == window.sent
            closed_early += closed
    latencies.sort()
    row = Row(name, clients, connected, window, latencies, received, complete, closed_early, cpu, dict(errors), note)
    row.gaps = gaps
    return row


def timeline(window: Window, reports: list, per_second: int) -> list[list[float]]:
    seconds: list[list[float]] = [[] for _ in range(-(-window.sent // per_second))]
    for connections, _ in reports:
        for seqs, lats, _closed in connections:
            for seq, lat in zip(seqs, lats, strict=True):
                if window.first_seq <= seq <= window.last_seq:
                    seconds[(seq - window.first_seq) // per_second].append(lat)
    return [sorted(second) for second in seconds]


def measure_reference(clients: int, cookies: list[str], args: argparse.Namespace) -> Row:
    port = free_port()
    control, remote = SPAWN.Pipe()
    server = SPAWN.Process(target=reference_process, args=(port, remote, args.rate, args.warmup, args.seconds))
    server.start()
    try:
        wait_for_port(port, timeout=30, alive=server.is_alive)

        def produce() -> Window:
            control.send("go")
            return control.recv()

        watched = {"server": [psutil.Process(server.pid)]}
        return run_clients("bare websockets.broadcast (reference)", port, cookies[:clients], args, produce, watched)
    finally:
        with contextlib.suppress(OSError):
            control.send("stop")
        server.join(timeout=30)
        if server.is_alive():
            server.kill()


def measure_system(
    clients: int, cookies: list[str], args: argparse.Namespace, redis_url: str, redis_pid: int, log: Path
) -> Row:
    port = free_port()
    uvicorn = start_uvicorn(args.app, port, args.workers, log)
    try:
        wait_for_port(port, timeout=60, alive=lambda: uvicorn.poll() is None)
        time.sleep(1.0 if args.workers > 1 else 0.2)  # every worker has imported the app
        watched = {"server": family(uvicorn.pid), "redis": [psutil.Process(redis_pid)]}

        def produce() -> Window:
            return system_produce(redis_url, args.rate, args.warmup, args.seconds)

        def spread() -> str:
            return "connections per web process: " + "/".join(
                str(n) for n in connections_per_process(uvicorn.pid, port)
            )

        name = f"engine.consumers, uvicorn {args.workers} worker{'s' if args.workers > 1 else ''}"
        if args.app != "exchange_console.asgi:application":
            name = f"{args.app.split(':')[0]}, uvicorn {args.workers}w"
        return run_clients(name, port, cookies[:clients], args, produce, watched, spread)
    finally:
        uvicorn.send_signal(signal.SIGINT)
        try:
            uvicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            uvicorn.kill()
            uvicorn.wait()


def connections_per_process(pid: int, port: int) -> list[int]:
    counts = []
    for process in family(pid):
        with contextlib.suppress(psutil.Error):
            mine = [c for c in process.net_connections("tcp") if c.laddr and c.laddr.port == port and c.raddr]
            if mine:
                counts.append(len(mine))
    return counts


# -- output ---------------------------------------------------------------------------------

HEADER = (
    f"{'server':40} {'clients':>7} {'conn':>5} {'msgs':>5} {'delivered':>9} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'p99.9 ms':>8} {'max ms':>7} {'srv cpu/s':>9} {'redis':>6} {'clients':>7} {'others':>6} {'p99 ratio':>9}"
)


def line(row: Row, reference: Row | None) -> str:
    ratio = f"{row.percentile(0.99) / reference.percentile(0.99):.2f}" if reference else "-"
    redis = f"{row.cpu['redis']:.2f}" if "redis" in row.cpu else "-"
    return (
        f"{row.name:40} {row.clients:>7,} {row.connected:>5} {row.window.sent:>5} {row.delivered:>9.3%} "
        f"{row.percentile(0.5):>7.1f} {row.percentile(0.99):>7.1f} {row.percentile(0.999):>8.1f} "
        f"{row.latencies[-1] * 1000 if row.latencies else float('nan'):>7.1f} {row.cpu['server']:>9.2f} {redis:>6} "
        f"{row.cpu['clients']:>7.2f} {row.cpu['others']:>6.2f} {ratio:>9}"
    )


def details(row: Row) -> list[str]:
    notes = []
    if row.complete != row.clients:
        missing = row.window.sent * row.clients - row.received
        notes.append(
            f"{row.complete} of {row.clients} connections got every message; of the {missing:,} missing, "
            f"{row.gaps:,} were skipped (gaps) and {missing - row.gaps:,} had not arrived at the end (late)"
        )
    if row.closed_early:
        notes.append(f"{row.closed_early} connections closed by the server")
    notes += [f"{count} x {error}" for error, count in row.errors.items()]
    kernel = ", ".join(f"{key} {row.cpu[f'{key} kernel']:.2f}" for key in ("server", "clients"))
    notes.append(f"CPU s/s in the kernel: {kernel}; the whole machine busy: {row.cpu['machine']:.2f}")
    if row.note:
        notes.append(row.note)
    return [f"  {row.name.split(',')[0]}: {note}" for note in notes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1000,2000", help="comma-separated numbers of clients")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds of messages per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of messages before the measured ones")
    parser.add_argument("--drain", type=float, default=2.0, help="seconds the clients listen after the last message")
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--client-procs", type=int, default=4, help="client processes sharing the connections")
    parser.add_argument("--only", choices=["reference", "system"])
    parser.add_argument("--app", default="exchange_console.asgi:application", help="the ASGI application to serve")
    parser.add_argument(
        "--client", choices=["sansio", "asyncio"], default="sansio",
        help="websockets' client protocol driven from the socket's callback, or its asyncio client (a task each)",
    )  # fmt: skip
    parser.add_argument("--timeline", action="store_true", help="also print p50/p99 for every second of each run")
    parser.add_argument("--repeat", type=int, default=1, help="measure each configuration this many times, interleaved")
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, metavar="SECONDS",
        help="before each measurement, wait up to this long for other work to take under 0.25 of a core",
    )  # fmt: skip
    args = parser.parse_args()
    counts = [int(n) for n in args.clients.split(",")]
    raise_file_limit()
    print(
        f"# python {sys.version.split()[0]}, {os.cpu_count()} cpus, websockets {websockets.__version__}, "
        f"{args.seconds:.0f} s at {args.rate:g} Hz per run (+{args.warmup:g} s warm-up), "
        f"{args.client_procs} client processes, uvicorn --workers {args.workers}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="fanout-") as name:
        directory = Path(name)
        redis_server, redis_url = setup_django(directory)
        try:
            cookies = viewer_sessions(max(counts))
            redis_pid = int((directory / "redis" / "redis.pid").read_text())
            rows = run_all(counts, cookies, args, redis_url, redis_pid, directory / "uvicorn.log")
        finally:
            redis_server.stop()
    print_summary(rows)


def run_all(
    counts: list[int], cookies: list[str], args: argparse.Namespace, redis_url: str, redis_pid: int, log: Path
) -> list[tuple[Row | None, Row | None]]:
    rows = []
    for clients in [n for _ in range(args.repeat) for n in counts]:
        reference = system = None
        if args.only != "system":
            wait_quiet(args.wait_quiet)
            reference = measure_reference(clients, cookies, args)
            print(line(reference, None), flush=True)
            if reference.timeline:
                print_timeline(reference)
        if args.only != "reference":
            wait_quiet(args.wait_quiet)
            try:
                system = measure_system(clients, cookies, args, redis_url, redis_pid, log)
            except Exception:
                print(f"# the system failed; last lines of {log}:\n{_tail(log)}", flush=True)
                raise
            print(line(system, reference), flush=True)
            if system.timeline:
                print_timeline(system)
        rows.append((reference, system))
    return rows


def wait_quiet(longest: float, *, below: float = 0.25) -> None:
    """Wait (at most `longest` seconds) until the machine is busy with less than `below` of a core."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        before = machine_busy()
        time.sleep(2.0)
        busy = (machine_busy() - before) / 2.0
        if busy < below:
            return
    if longest:
        print(f"# the machine did not get quiet within {longest:g} s: measuring anyway", flush=True)


def print_timeline(row: Row) -> None:
    print(f"  {row.name}, {row.clients:,} clients, by second: p50/p99/max ms")
    cells = []
    for second in row.timeline:
        if second:
            p50, p99 = second[len(second) // 2], second[min(len(second) - 1, int(0.99 * len(second)))]
            cells.append(f"{p50 * 1000:.0f}/{p99 * 1000:.0f}/{second[-1] * 1000:.0f}")
        else:
            cells.append("-")
    for start in range(0, len(cells), 10):
        print("    " + "  ".join(f"{cell:>14}" for cell in cells[start : start + 10]))


def print_summary(rows: list[tuple[Row | None, Row | None]]) -> None:
    first = next(row for pair in rows for row in pair if row is not None)
    print(f"\n# frames of {first.window.size} bytes; latency = receipt - producer's ts; ratio = p99 / reference p99")
    print(HEADER)
    for reference, system in rows:
        for row in (reference, system):
            if row is not None:
                print(line(row, reference if row is system else None))
    for pair in rows:
        for row in pair:
            if row is not None:
                for note in details(row):
                    print(note)


def _tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-40:])
    except FileNotFoundError:
        return "(no log)"


if __name__ == "__main__":
    main()
