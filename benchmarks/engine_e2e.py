"""Benchmark: sustained order flow through Redis to the engine worker and back, journal fsync on.

    .venv/bin/python benchmarks/engine_e2e.py                 # 60 s each: reference, then engine
    .venv/bin/python benchmarks/engine_e2e.py --seconds 20 --window 8   # the saturation point

Producer processes send orders in stream entries of `--batch` orders, keeping at most
`--window` entries each in flight (closed loop: a new entry goes out as an acknowledgement comes
back), and time every entry from its XADD to the arrival of its acknowledgement on the
producer's reply list; an order's latency is its entry's. Prints the figures for the whole run
and for each 10 s of it (`--slice`), and what the worker's own metrics said of its book, memory
and CPU at the end of each slice. Orders: ~75% passive limit orders
around a random-walking mid, ~3% crossing limits, ~2% market orders, ~20% cancels of the
producer's own resting orders (learnt from the acknowledgements), over 4 markets.

Reference, in the same run: a bare Redis stream round trip with no engine — a consumer process
reads the same entries (XREAD) and acknowledges each one the way the worker does (XADD to an
event stream and RPUSH to the reply list, in one MULTI) — the ceiling on this machine. Then
the real worker (`engine.worker`, `fsync` journal policy) on the same flow, with a standby
worker following its journal as the supervisor runs one (`--no-standby`: the worker alone).
Both on a private embedded Redis. Prints orders/s, ack latency p50/p99/p99.9 and the ratio to the reference.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from engine.streams import Keys, command_entry, pack, unpack  # noqa: E402
from exchange_console.embedded_redis import EmbeddedRedis  # noqa: E402

SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"]
SHARD = "bench"


def producer(url: str, index: int, seconds: float, batch: int, window: int, results: multiprocessing.Queue) -> None:
    """Send flow for `seconds`, keep `window` entries in flight; report (orders, latencies)."""
    rng = random.Random(index)  # noqa: S311 (a workload, not secrets)
    connection = redis.Redis.from_url(url)
    keys = Keys(SHARD)
    reply = f"bench:reply:{index}:{os.getpid()}"
    mids = dict.fromkeys(SYMBOLS, 100_000)
    live: list[tuple[str, int, int]] = []  # (symbol, account, order id) resting, as far as we know
    in_flight: dict[str, tuple[float, int]] = {}
    latencies: list[tuple[float, int, int]] = []  # (seconds, orders, second of the run it came back in)
    acked = number = 0
    started = time.perf_counter()
    end = started + seconds

    def orders() -> list[list]:
        nonlocal number
        made = []
        for _ in range(batch):
            symbol = SYMBOLS[rng.randrange(4)]
            if rng.random() < 0.1:
                mids[symbol] += rng.choice((-1, 1))
            mid, roll = mids[symbol], rng.random()
            number += 1
            account = 1 + (index * 1000) + rng.randrange(100)
            is_buy = rng.random() < 0.5
            side, qty = ("buy" if is_buy else "sell"), rng.randint(1, 100)
            if roll < 0.20 and live:
                where = rng.randrange(len(live))
                live[where], live[-1] = live[-1], live[where]
                held_symbol, owner, order_id = live.pop()
                made.append([3, held_symbol, owner, order_id])
            elif roll < 0.22:
                made.append([2, symbol, account, f"{index}-{number}", side, qty, "none"])
            elif roll < 0.25:
                price = mid + rng.randint(1, 6) * (1 if is_buy else -1)
                made.append([1, symbol, account, f"{index}-{number}", side, price, qty, "gtc", "none"])
            else:
                price = mid - (1 + int(rng.expovariate(1 / 8))) * (1 if is_buy else -1)
                made.append([1, symbol, account, f"{index}-{number}", side, price, qty, "gtc", "none"])
        return made

    while True:
        now = time.perf_counter()
        if now < end and len(in_flight) < window:
            pipeline = connection.pipeline(transaction=False)
            for _ in range(window - len(in_flight)):
                pipeline.xadd(keys.commands, command_entry(orders(), reply))
            sent = time.perf_counter()
            for raw in pipeline.execute():
                in_flight[raw.decode()] = (sent, batch)
        if not in_flight:
            break
        popped = connection.blpop([reply], timeout=5)
        if popped is None:
            raise RuntimeError(f"producer {index}: no acknowledgement for 5 s ({len(in_flight)} entries in flight)")
        items = [popped[1], *(connection.lpop(reply, 1000) or [])]
        received = time.perf_counter()
        for item in items:
            entry_id, outcome = unpack(item)
            sent_at, count = in_flight.pop(entry_id)
            if received <= end:
                latencies.append((received - sent_at, count, int(received - started)))
                acked += count
            for events in outcome if isinstance(outcome, list) else ():
                first = events[0]
                if first[-1] == "accepted" and first[6] is not None and len(events) == 1:
                    live.append((first[2], first[3], first[1]))
    results.put((acked, latencies))


def bare_consumer(url: str, stop_file: str) -> None:
    """The reference: read entries and acknowledge each as the worker does, without an engine."""
    connection = redis.Redis.from_url(url)
    keys = Keys(SHARD)
    position = "0-0"
    while not os.path.exists(stop_file):
        found = connection.xread({keys.commands: position}, count=256, block=100)
        if not found:
            continue
        pipeline = connection.pipeline(transaction=True)
        for raw_id, fields in found[0][1]:
            position = raw_id.decode()
            ack = pack([position, len(unpack(fields[b"c"]))])
            pipeline.xadd(keys.events, {"a": ack}, maxlen=100_000, approximate=True)
            pipeline.rpush(fields[b"r"], ack)
        pipeline.execute()
        connection.xtrim(keys.commands, minid=position)


Flow = tuple[float, dict[str, float], dict[int, tuple[float, float]]]  # orders/s, percentiles, per slice


def run_flow(url: str, args: argparse.Namespace) -> Flow:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=producer, args=(url, index, args.seconds, args.batch, args.window, queue))
        for index in range(args.producers)
    ]
    for process in workers:
        process.start()
    outcomes = [queue.get(timeout=args.seconds + 120) for _ in workers]
    for process in workers:
        process.join()
    orders = sum(acked for acked, _ in outcomes)
    samples = [sample for _, latencies in outcomes for sample in latencies]
    slices = {}  # what came back in each `--slice` seconds: is the rate sustained, or front-loaded?
    for start in range(0, int(args.seconds), args.slice):
        inside = [(latency, count) for latency, count, second in samples if start <= second < start + args.slice]
        span = min(args.slice, args.seconds - start)
        slices[start] = (sum(count for _, count in inside) / span, _percentiles(sorted(inside))["p99"])
    return orders / args.seconds, _percentiles(sorted((latency, count) for latency, count, _ in samples)), slices


def _percentiles(weighted: list[tuple[float, int]]) -> dict[str, float]:
    total = sum(count for _, count in weighted)
    marks, found, seen = {"p50": 0.5, "p99": 0.99, "p99.9": 0.999}, {}, 0
    for latency, count in weighted:
        seen += count
        for name, fraction in marks.items():
            if name not in found and seen >= fraction * total:
                found[name] = latency * 1000
    found["max"] = weighted[-1][0] * 1000 if weighted else 0.0
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200, help="orders per stream entry")
    parser.add_argument("--window", type=int, default=2, help="entries in flight per producer (8: saturation)")
    parser.add_argument("--slice", type=int, default=10, help="also print orders/s and p99 per slice of seconds")
    parser.add_argument("--only", choices=["reference", "engine"])
    parser.add_argument("--no-standby", action="store_true", help="the worker alone, without the following standby")
    parser.add_argument("--drain", type=int, metavar="ORDERS", help="only: the worker alone drains a pre-filled stream")
    args = parser.parse_args()
    if args.drain:
        drain(args.drain, args.batch)
        return
    print(
        f"# python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.seconds:.0f} s per run, "
        f"{args.producers} producers, {args.batch} orders per entry, {args.window} entries in flight each"
    )
    rows = {}
    with tempfile.TemporaryDirectory() as directory:
        server = EmbeddedRedis(Path(directory) / "redis")
        (Path(directory) / "redis").mkdir()
        server.ensure_daemon()
        try:
            if args.only != "engine":
                rows["bare Redis round trip (reference)"] = reference(server.url, args, Path(directory))
            if args.only != "reference":
                redis.Redis.from_url(server.url).flushall()
                name = "engine worker, journal fsync" + ("" if args.no_standby else ", standby")
                rows[name] = engine(server.url, args, Path(directory))
        finally:
            server.stop()
    reference_rate = next(iter(rows.values()))[0]
    print(f"{'run':45} {'orders/s':>10} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'p99.9 ms':>8} {'max ms':>7}")
    for name, (rate, lat, _) in rows.items():
        print(
            f"{name:45} {rate:>10,.0f} {rate / reference_rate:>6.2f} {lat['p50']:>7.2f} {lat['p99']:>7.2f} "
            f"{lat['p99.9']:>8.2f} {lat['max']:>7.1f}"
        )
    for name, (_, _, slices) in rows.items():
        print(f"{name}, per {args.slice} s: " + ", ".join(
            f"{start}s {rate:,.0f}/s p99 {p99:.1f}" for start, (rate, p99) in slices.items()
        ))  # fmt: skip


def reference(url: str, args: argparse.Namespace, directory: Path) -> Flow:
    stop_file = str(directory / "stop-reference")
    consumer = multiprocessing.Process(target=bare_consumer, args=(url, stop_file))
    consumer.start()
    try:
        return run_flow(url, args)
    finally:
        Path(stop_file).touch()
        consumer.join()


def engine(url: str, args: argparse.Namespace, directory: Path) -> Flow:
    from engine.worker import WorkerConfig

    markets = [{"symbol": symbol, "band_bps": None, "max_qty": 1_000_000} for symbol in SYMBOLS]
    config = WorkerConfig(shard=SHARD, journal_dir=str(directory / "journal"), redis_url=url, markets=markets)
    path = directory / "worker.json"
    path.write_text(config.to_json())
    read_end, write_end = os.pipe()
    worker = _worker(path, "--beat-fd", write_end)
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:  # wait for "ready"; a thread keeps draining heartbeats after
            if line.startswith(b"{"):
                break
        drainer = multiprocessing.Process(target=_drain, args=(pipe.fileno(),))
        drainer.start()
        standby = go = None
        if not args.no_standby:  # as the supervisor runs it: a standby following the journal
            go_read, go = os.pipe()
            standby = _worker(path, "--standby-fd", go_read)
        try:
            flow = run_flow(url, args)
            _worker_slices(redis.Redis.from_url(url), args.slice)
            return flow
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            drainer.join(timeout=10)
            if standby is not None:
                os.close(go)  # end of file: the standby leaves
                standby.wait(timeout=60)


def _worker_slices(connection: redis.Redis, every: int) -> None:
    """What the worker's own metrics say at the end of each slice: the book it holds, its memory, its CPU."""
    seen = [unpack(fields[b"m"]) for _, fields in connection.xrange(Keys(SHARD).metrics)]
    for metrics in seen[every - 1 :: every]:
        resting = sum(market["resting"] for market in metrics["markets"].values())
        print(
            f"# worker at {metrics['uptime']:.0f} s: {resting:,} resting orders, "
            f"RSS {metrics['rss_bytes'] / 2**20:,.0f} MiB, CPU {metrics['cpu_percent']:.0f}%, "
            f"queue {metrics['queue_depth']}, snapshot age {metrics['snapshot_age']} s"
        )


def _worker(config: Path, option: str, descriptor: int) -> subprocess.Popen:
    """Start `engine.worker` with a pipe end passed as `option` (closed here: the child has it)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.worker", "--config", str(config), option, str(descriptor)],
        cwd=ROOT,
        pass_fds=[descriptor],
        stderr=subprocess.DEVNULL,
    )
    os.close(descriptor)
    return process


def drain(orders: int, batch: int) -> None:
    """The worker's own ceiling: fill the stream first, then time the worker through all of it."""
    rng = random.Random(1)  # noqa: S311 (a workload, not secrets)
    with tempfile.TemporaryDirectory() as directory:
        server = EmbeddedRedis(Path(directory) / "redis")
        (Path(directory) / "redis").mkdir()
        server.ensure_daemon()
        try:
            connection = redis.Redis.from_url(server.url)
            pipeline, number = connection.pipeline(transaction=False), 0
            for _ in range(orders // batch):
                made = []
                for _ in range(batch):
                    number += 1
                    is_buy = rng.random() < 0.5
                    away = -rng.randint(1, 6) if rng.random() < 0.03 else 1 + int(rng.expovariate(1 / 8))
                    price = 100_000 - away if is_buy else 100_000 + away
                    side, qty = ("buy" if is_buy else "sell"), rng.randint(1, 100)
                    made.append([1, SYMBOLS[rng.randrange(4)], 1 + rng.randrange(100), f"d{number}", side, price, qty])
                pipeline.xadd(Keys(SHARD).commands, command_entry(made, "bench:drain"))
            pipeline.execute()
            from engine.worker import WorkerConfig

            markets = [{"symbol": symbol, "band_bps": None, "max_qty": 1_000_000} for symbol in SYMBOLS]
            config = WorkerConfig(SHARD, str(Path(directory) / "journal"), server.url, markets)
            (Path(directory) / "worker.json").write_text(config.to_json())
            started = time.perf_counter()
            worker = subprocess.Popen(
                [sys.executable, "-m", "engine.worker", "--config", str(Path(directory) / "worker.json")],
                cwd=ROOT,
                stderr=subprocess.DEVNULL,
            )
            while connection.llen("bench:drain") < orders // batch:
                time.sleep(0.005)
            seconds = time.perf_counter() - started
            worker.terminate()
            worker.wait(timeout=60)
        finally:
            server.stop()
    print(f"worker alone: {orders:,} orders applied, journaled (fsync) and acknowledged in {seconds:.2f} s "
          f"= {orders / seconds:,.0f} orders/s (including the worker's start)")  # fmt: skip


def _drain(fd: int) -> None:
    with os.fdopen(fd, "rb") as pipe:
        for _ in pipe:
            pass


if __name__ == "__main__":
    main()
