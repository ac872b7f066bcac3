"""Run a real engine worker for a test: its own shard, journal and pipe, on the test Redis."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis
from django.conf import settings

from engine.streams import Keys, command_entry, unpack
from engine.worker import WorkerConfig
from exchange_console.paths import BASE_DIR
from tests.support.processes import child_env, stop, wait_for

BTC_USD = {"symbol": "BTC-USD", "tick_size": "0.01", "lot_size": "0.001", "band_bps": None}
ETH_USD = {"symbol": "ETH-USD", "tick_size": "0.01", "lot_size": "0.0001", "band_bps": None}


def unique_shard() -> str:
    """A shard name no other test uses, so tests share one Redis without meeting."""
    return f"test-{uuid.uuid4().hex[:10]}"


def worker_config(directory: Path, shard: str | None = None, **overrides) -> WorkerConfig:
    options = {
        "shard": shard or unique_shard(),
        "journal_dir": str(directory / "journal"),
        "redis_url": settings.REDIS_URL,
        "markets": [BTC_USD, ETH_USD],
    }
    options.update(overrides)
    return WorkerConfig(**options)


class WorkerProcess:
    """A worker subprocess and what it says on its pipe (heartbeats, ready, metrics)."""

    def __init__(self, config: WorkerConfig, directory: Path, *, standby: bool = False) -> None:
        """With `standby`, the worker waits (following the journal) until `go()`, as the supervisor's does."""
        self.config = config
        self.keys = Keys(config.shard)
        path = directory / f"worker-{config.shard}.json"
        path.write_text(config.to_json())
        read_end, write_end = os.pipe()
        command = [sys.executable, "-m", "engine.worker", "--config", str(path), "--beat-fd", str(write_end)]
        descriptors = [write_end]
        self._go = None
        if standby:
            go_read, self._go = os.pipe()
            command += ["--standby-fd", str(go_read)]
            descriptors.append(go_read)
        self.log = open(directory / f"worker-{config.shard}.log", "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, pass_fds=descriptors, stdout=self.log, stderr=subprocess.STDOUT
        )
        for descriptor in descriptors:  # the child's ends
            os.close(descriptor)
        self.heartbeats = 0
        self.last_heartbeat = time.monotonic()
        self.messages: queue.Queue[dict] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(read_end,), daemon=True)
        self._reader.start()

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            for line in pipe:
                if line == b"h\n":
                    self.heartbeats += 1
                    self.last_heartbeat = time.monotonic()
                else:
                    self.messages.put(json.loads(line))

    def expect(self, kind: str, timeout: float = 20.0) -> dict:
        """Return the next message of `kind` from the worker; fail if none comes in time."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if message["type"] == kind:
                return message
        raise TimeoutError(f"no {kind!r} message from the worker in {timeout} s; log:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def go(self) -> None:
        """Tell a standby to take over."""
        os.write(self._go, b"go\n")
        os.close(self._go)
        self._go = None

    def stop(self, timeout: float = 20.0) -> int:
        if self._go is not None:  # a standby never told to go: end of file lets it leave
            os.close(self._go)
            self._go = None
        code = stop(self.process, timeout=timeout)
        self.log.close()
        return code


@contextlib.contextmanager
def running_worker(directory: Path, config: WorkerConfig | None = None, **overrides) -> Iterator[WorkerProcess]:
    """Start a worker (a new shard unless `config` says otherwise), wait for it to be ready, stop it after."""
    worker = WorkerProcess(config or worker_config(directory, **overrides), directory)
    try:
        worker.ready = worker.expect("ready")
        yield worker
    finally:
        worker.stop()


def wait_for_heartbeat(shard: str, timeout: float = 5.0) -> None:
    """Wait for a shard's heartbeat key: a worker says "ready" on its pipe just before it first writes it."""
    client, key = redis.Redis.from_url(settings.REDIS_URL), Keys(shard).heartbeat
    deadline = time.monotonic() + timeout
    while not client.exists(key):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no heartbeat from shard {shard} in {timeout} s")
        time.sleep(0.01)


class Client:
    """What a trading client does: send command batches, collect acknowledgements from its reply list."""

    def __init__(self, shard: str) -> None:
        self.keys = Keys(shard)
        self.redis = redis.Redis.from_url(settings.REDIS_URL)
        self.reply = f"{self.keys.prefix}:test-replies:{uuid.uuid4().hex[:8]}"

    def send(self, commands: list[list]) -> str:
        return self.redis.xadd(self.keys.commands, command_entry(commands, self.reply)).decode()

    def acks(self, count: int, timeout: float = 20.0) -> dict[str, list]:
        """Wait for `count` acknowledgements: {entry id: events per command}."""
        found: dict[str, list] = {}
        deadline = time.monotonic() + timeout
        while len(found) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(found)} of {count} acknowledgements after {timeout} s")
            item = self.redis.blpop([self.reply], timeout=min(left, 1.0))
            if item is not None:
                entry_id, results = unpack(item[1])
                found[entry_id] = results
        return found

    def request(self, commands: list[list], timeout: float = 20.0) -> list:
        entry_id = self.send(commands)
        acks = self.acks(1, timeout)
        assert list(acks) == [entry_id]
        return acks[entry_id]


# -- the supervised engine (`manage.py run_engine`) as a real process; these need the database --

FAST = ["--heartbeat-timeout", "0.6", "--backoff-initial", "0.05", "--lease-ttl", "1.5"]


def market_shard(symbols: tuple[str, ...] = ("BTC-USD",)) -> str:
    """A new shard with markets in the database (no band: tests trade far from any reference)."""
    from engine.models import Market

    name = unique_shard()
    for symbol in symbols:
        Market.objects.create(symbol=symbol, shard=name, tick_size="0.01", lot_size="0.001", band_bps=None)
    return name


@contextlib.contextmanager
def supervisor(
    tmp_path: Path, shard: str, *options: str, journal: Path | None = None, env: dict | None = None
) -> Iterator[subprocess.Popen]:
    """Run `manage.py run_engine` for `shard` (fast failure detection); terminate it after."""
    log = tmp_path / f"supervisor-{uuid.uuid4().hex[:6]}.log"
    command = [sys.executable, "manage.py", "run_engine", "--shard", shard, *FAST, *options]
    command += ["--journal-dir", str(journal or tmp_path / "journal")]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env or child_env(), stdout=output, stderr=subprocess.STDOUT
        )
    process.log = log
    try:
        yield process
    finally:
        stop(process, timeout=30)


def events(shard: str, kind: str | None = None) -> list:
    from engine.models import EngineEvent

    found = EngineEvent.objects.filter(shard=shard).order_by("at", "id")
    return list(found.filter(kind=kind) if kind else found)


def wait_for_event(shard: str, kind: str, count: int = 1, *, timeout: float = 30, process=None):
    what = f"{count} {kind} event(s)"
    wait_for(lambda: len(events(shard, kind)) >= count, timeout=timeout, what=what, process=process)
    return events(shard, kind)[count - 1]


def status(shard: str, redis_url: str | None = None) -> dict:
    raw = redis.Redis.from_url(redis_url or settings.REDIS_URL).get(Keys(shard).status)
    return unpack(raw) if raw else {}
