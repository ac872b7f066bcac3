"""Benchmark: recovery time after a worker crash with a 1,000,000-command journal tail (issue 4: RTO ≤ 3 s).

    .venv/bin/python benchmarks/engine_takeover.py                 # a tail of 1,000,000 commands
    .venv/bin/python benchmarks/engine_takeover.py --tail 200000   # the default snapshot interval

A worker (`engine.worker`, fsync journal, snapshots off so that nothing shortens the tail) takes
the closed-loop order flow of `engine_e2e.py` until its journal holds `--tail` commands after the
last snapshot. Two standby workers wait meanwhile, started as the supervisor starts them:

- the reference, a standby that only waits (`standby_follows=False`): on "go" it recovers
  from cold, restoring the snapshot and replaying the whole tail;
- a standby that follows the journal as the worker writes it (`engine.follower`, the default).

The worker is killed with SIGKILL and, once it is gone, the following standby is told to go and
a probe order is sent: its RTO is the time from the kill to the probe's acknowledgement. Then
the same again for the reference, after the following standby (which took over) is killed in
turn: the tail is the same plus the probe. Prints both RTOs, their ratio, how long the killed
process took to exit (its lock is free only then), and what each standby had left to replay.
Runs on a private embedded Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from benchmarks.engine_e2e import SHARD, SYMBOLS, run_flow  # noqa: E402
from engine.streams import Keys, command_entry, unpack  # noqa: E402
from engine.worker import WorkerConfig  # noqa: E402
from exchange_console.embedded_redis import EmbeddedRedis  # noqa: E402

NEVER = 2**62


class Worker:
    """A worker process (a standby if `follows` is given) and the messages on its pipe."""

    def __init__(self, config: WorkerConfig, directory: Path, name: str, follows: bool | None = None) -> None:
        if follows is not None:
            config = WorkerConfig(**{**config.__dict__, "standby_follows": follows})
        path = directory / f"{name}.json"
        path.write_text(config.to_json())
        read_end, write_end = os.pipe()
        command = [sys.executable, "-m", "engine.worker", "--config", str(path), "--beat-fd", str(write_end)]
        descriptors, self.go_fd = [write_end], None
        if follows is not None:
            go_read, self.go_fd = os.pipe()
            command += ["--standby-fd", str(go_read)]
            descriptors.append(go_read)
        self.log = open(directory / f"{name}.log", "wb")  # noqa: SIM115 (closed by the process's end)
        self.process = subprocess.Popen(command, cwd=ROOT, pass_fds=descriptors, stderr=self.log)
        for descriptor in descriptors:
            os.close(descriptor)
        self.messages: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, args=(read_end,), daemon=True).start()

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            for line in pipe:
                if line.startswith(b"{"):
                    self.messages.put(json.loads(line))

    def ready(self, timeout: float = 120.0) -> dict:
        while True:
            message = self.messages.get(timeout=timeout)
            if message.get("type") == "ready":
                return message

    def go(self) -> None:
        os.write(self.go_fd, b"go\n")
        os.close(self.go_fd)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def take_over(url: str, dead: Worker, standby: Worker) -> tuple[float, float, dict]:
    """Kill `dead`, let `standby` go once it is gone, probe; return seconds to its exit, to the probe's ack, ready."""
    connection, reply = redis.Redis.from_url(url), f"bench:probe:{standby.process.pid}"
    probe = [[1, SYMBOLS[0], 9, f"probe-{standby.process.pid}", "buy", 1, 1, "gtc", "none"]]
    killed = time.perf_counter()
    dead.kill()
    gone = time.perf_counter() - killed  # the kernel frees the dead worker's memory before its lock
    standby.go()
    connection.xadd(Keys(SHARD).commands, command_entry(probe, reply))
    answered = connection.blpop([reply], timeout=120)
    if answered is None:
        raise RuntimeError("the probe was never acknowledged")
    seconds = time.perf_counter() - killed
    assert unpack(answered[1])[1][0][0][-1] == "accepted"
    return gone, seconds, standby.ready(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tail", type=int, default=1_000_000, help="journal records after the last snapshot")
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200, help="orders per stream entry")
    parser.add_argument("--window", type=int, default=8, help="entries in flight per producer")
    args = parser.parse_args()
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} cpus, tail {args.tail:,} commands")
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        (directory / "redis").mkdir()
        server = EmbeddedRedis(directory / "redis")
        server.ensure_daemon()
        workers: list[Worker] = []
        try:
            markets = [{"symbol": symbol, "band_bps": None, "max_qty": 1_000_000} for symbol in SYMBOLS]
            config = WorkerConfig(
                SHARD, str(directory / "journal"), server.url, markets,
                snapshot_every=NEVER, snapshot_interval=10.0**9,
            )  # fmt: skip
            writer = Worker(config, directory, "writer")
            workers.append(writer)
            writer.ready()
            following = Worker(config, directory, "following", follows=True)
            cold = Worker(config, directory, "cold", follows=False)
            workers += [following, cold]
            loaded, started = 0, time.perf_counter()
            while loaded < args.tail:
                round_seconds = min(10.0, max(1.0, (args.tail - loaded) / 40_000))
                flow = argparse.Namespace(
                    seconds=round_seconds, producers=args.producers, batch=args.batch, window=args.window, slice=10
                )
                rate, _, _ = run_flow(server.url, flow)
                loaded += int(rate * round_seconds)
                print(f"  loaded {loaded:,} orders ({time.perf_counter() - started:.0f} s)", flush=True)
            warm = take_over(server.url, writer, following)
            cold_run = take_over(server.url, following, cold)
        finally:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.kill()
            server.stop()
    rows = [("standby recovering from cold (reference)", *cold_run), ("standby that followed", *warm)]
    print(f"{'standby':40} {'RTO s':>6} {'ratio':>6} {'exit s':>6} {'tail':>10} {'replayed':>10} {'recovery s':>10}")
    for name, gone, seconds, ready in rows:
        recovery = ready["recovery"]
        print(
            f"{name:40} {seconds:>6.3f} {seconds / cold_run[1]:>6.2f} {gone:>6.3f} "
            f"{recovery['last_sequence'] - recovery['snapshot_sequence']:>10,} {recovery['replayed']:>10,} "
            f"{recovery['seconds']:>10.3f}"
        )


if __name__ == "__main__":
    main()
