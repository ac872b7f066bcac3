"""Benchmark: the pure matching core against a minimal reference book, on 1 and 8 symbols.

    .venv/bin/python benchmarks/engine_core.py                      # 1,000,000 commands
    .venv/bin/python benchmarks/engine_core.py --commands 200000 --symbols 1
    .venv/bin/python benchmarks/engine_core.py --extras-only          # memory, snapshot, replay

The workload is seeded and built here (issue 3): ~72% limit orders resting 1 + Exp(mean 8)
ticks from a mid that random-walks (one tick, 10% of the time), ~2% limit orders 1-6 ticks
through the mid, ~3% market orders, ~25% cancels of a uniformly chosen live order; quantities
of 1-100 lots (market orders 1-200, never more than the other side holds). The generator drives
the reference book as it goes, so cancels always hit live orders, and records the expected
fills: every engine must produce the same fill count and volume (the gate before any speed
claim). Each engine then runs in its own process with the cyclic GC on, as in production, and
every command is timed with perf_counter_ns, events consumed (trades counted) as a caller would.

Rows: the reference book (sortedcontainers SortedDict of price levels holding deques, dict
id -> order, nothing else), the engine through `submit(Limit(...))`, through its per-command
methods (`engine.limit(...)`), which is what the worker does with decoded fields, and journaled:
`DurableEngine.submit` in batches (`--batch`, default 1,000) with the `fsync` policy. For that
row a command's latency is its batch's, from the batch's start to its fsync: when the caller
may acknowledge it. The `gc ms` column is the longest cyclic-GC pause seen during the run.

Extras (1 symbol): RSS with 1,000,000 resting orders; snapshot dump, write (fsynced) and load
times; replay rate, recovering the whole workload from its journal.
"""

from __future__ import annotations

import argparse
import gc
import json
import marshal
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_MID = 100_000
LIMIT, MARKET, CANCEL = 0, 1, 2
SETTLE_EVERY = 100_000  # commands between `settle()` calls: about the worker's one-second tick


class ReferenceBook:
    """The minimal pure-Python book: SortedDict of levels [deque, live count], dict id -> order."""

    __slots__ = ("asks", "bids", "fills", "orders", "resting", "volume")

    def __init__(self) -> None:
        from sortedcontainers import SortedDict

        self.bids, self.asks = SortedDict(), SortedDict()  # keys: -price for bids, price for asks
        self.orders: dict[int, list] = {}
        self.resting = [0, 0]  # open lots: [asks, bids]
        self.fills = self.volume = 0

    def limit(self, oid: int, is_buy: int, price: int, qty: int) -> None:
        """Match, then rest the remainder."""
        qty = self._take(is_buy, qty, price if is_buy else -price)
        if qty:
            side, key = (self.bids, -price) if is_buy else (self.asks, price)
            order = [oid, is_buy, price, qty]
            level = side.get(key)
            if level is None:
                side[key] = [deque((order,)), 1]
            else:
                level[0].append(order)
                level[1] += 1
            self.orders[oid] = order
            self.resting[is_buy] += qty

    def market(self, oid: int, is_buy: int, qty: int) -> None:
        """Match at any price; the rest is dropped."""
        self._take(is_buy, qty, 1 << 62)

    def cancel(self, oid: int) -> None:
        """Remove a live order (lazily from its queue)."""
        order = self.orders.pop(oid)
        side, key = (self.bids, -order[2]) if order[1] else (self.asks, order[2])
        level = side[key]
        level[1] -= 1
        if not level[1]:
            del side[key]
        self.resting[order[1]] -= order[3]
        order[3] = 0

    def _take(self, is_buy: int, qty: int, limit_key: int) -> int:
        side = self.asks if is_buy else self.bids
        while qty and side:
            key, level = side.peekitem(0)
            if key > limit_key:
                break
            queue = level[0]
            while qty:
                order = queue[0]
                if not order[3]:
                    queue.popleft()
                    continue
                fill = min(qty, order[3])
                qty -= fill
                order[3] -= fill
                self.fills += 1
                self.volume += fill
                self.resting[0 if is_buy else 1] -= fill
                if not order[3]:
                    queue.popleft()
                    del self.orders[order[0]]
                    level[1] -= 1
                    if not level[1]:
                        del side[key]
                        break
        return qty


def generate(count: int, symbols: int, seed: int) -> dict:
    """Build the workload and the fills it must produce (see the module docstring)."""
    rng = random.Random(seed)  # noqa: S311  (a reproducible workload, not a secret)
    books = [ReferenceBook() for _ in range(symbols)]
    mids = [START_MID] * symbols
    live: list[list[int]] = [[] for _ in range(symbols)]
    commands = []
    for index in range(count):
        oid = index + 1  # the engine numbers orders by command sequence: use the same ids
        sym = rng.randrange(symbols)
        book, step, roll = books[sym], rng.random(), rng.random()
        mids[sym] += 1 if step < 0.05 else -1 if step < 0.1 else 0
        command = _cancel(rng, book, live[sym], sym) if roll < 0.25 else None
        if command is None and roll < 0.28:
            command = _market(rng, book, sym, oid)
        if command is None:
            command = _limit(rng, book, sym, oid, mids[sym], crossing=0.28 <= roll < 0.30)
            if oid in book.orders:
                live[sym].append(oid)
        commands.append(command)
    fills = (sum(book.fills for book in books), sum(book.volume for book in books))
    return {"commands": commands, "symbols": symbols, "fills": fills}


def _cancel(rng: random.Random, book: ReferenceBook, live: list[int], sym: int) -> tuple | None:
    while live:
        index = rng.randrange(len(live))
        oid, live[index] = live[index], live[-1]
        live.pop()
        if oid in book.orders:
            book.cancel(oid)
            return (CANCEL, sym, oid, 0, 0, 0)
    return None


def _market(rng: random.Random, book: ReferenceBook, sym: int, oid: int) -> tuple | None:
    is_buy = int(rng.random() < 0.5)
    available = book.resting[0] if is_buy else book.resting[1]
    if not available:
        return None
    qty = min(rng.randint(1, 200), available)
    book.market(oid, is_buy, qty)
    return (MARKET, sym, oid, is_buy, 0, qty)


def _limit(rng: random.Random, book: ReferenceBook, sym: int, oid: int, mid: int, *, crossing: bool) -> tuple:
    is_buy = int(rng.random() < 0.5)
    qty = rng.randint(1, 100)
    offset = -rng.randint(1, 6) if crossing else 1 + int(rng.expovariate(0.125))
    price = max(1, mid - offset if is_buy else mid + offset)
    book.limit(oid, is_buy, price, qty)
    return (LIMIT, sym, oid, is_buy, price, qty)


def reference_runner(symbols: int):
    """Return (limit, market, cancel, fills) callables driving the reference book."""
    books = [ReferenceBook() for _ in range(symbols)]

    def fills() -> tuple[int, int]:
        return sum(book.fills for book in books), sum(book.volume for book in books)

    return (
        lambda sym, oid, is_buy, price, qty: books[sym].limit(oid, is_buy, price, qty),
        lambda sym, oid, is_buy, qty: books[sym].market(oid, is_buy, qty),
        lambda sym, oid: books[sym].cancel(oid),
        fills,
    )


def engine_runner(symbols: int, *, direct: bool):
    """Return (limit, market, cancel, fills) callables driving engine.core, consuming its events."""
    sys.path.insert(0, str(ROOT))
    from engine.core import TRADE, Cancel, Engine, Limit, Market, MarketConfig

    names = [f"SYM{index}" for index in range(symbols)]
    engine = Engine([MarketConfig(name, max_qty=1_000_000, band_bps=None) for name in names])
    count = [0, 0]
    sides = ("sell", "buy")
    if direct:
        place, take, cancel = engine.limit, engine.market, engine.cancel
    else:
        submit = engine.submit

        def place(*fields):
            return submit(Limit(*fields))

        def take(*fields):
            return submit(Market(*fields))

        def cancel(*fields):
            return submit(Cancel(*fields))

    def consume(events: list) -> None:
        if len(events) > 1:
            for event in events:
                if event[-1] is TRADE:  # layout of engine.core.events.Trade: qty at 5
                    count[0] += 1
                    count[1] += event[5]

    # The account and client order id a gateway would pass; self-trade prevention off because
    # the workload's accounts are synthetic (the reference book has no such rule).
    return (
        lambda sym, oid, is_buy, price, qty: consume(
            place(names[sym], 1 + oid % 1024, str(oid), sides[is_buy], price, qty, "gtc", "none")
        ),
        lambda sym, oid, is_buy, qty: consume(take(names[sym], 1 + oid % 1024, str(oid), sides[is_buy], qty, "none")),
        lambda sym, oid: cancel(names[sym], 1 + oid % 1024, oid),
        lambda: tuple(count),
    )


RUNNERS = {
    "reference book": lambda symbols: reference_runner(symbols),
    "engine.core submit(command)": lambda symbols: engine_runner(symbols, direct=False),
    "engine.core engine.limit(...)": lambda symbols: engine_runner(symbols, direct=True),
}
DURABLE = "engine + journal (fsync)"


def markets(symbols: int) -> list:
    """The benchmark's markets: no band (the mid random-walks far), large orders allowed."""
    from engine.core import MarketConfig

    return [MarketConfig(f"SYM{index}", max_qty=1_000_000, band_bps=None) for index in range(symbols)]


def as_commands(workload: dict) -> list:
    """The workload as engine commands, built the way a gateway would build them."""
    sys.path.insert(0, str(ROOT))
    from engine.core import Cancel, Limit, Market

    names, sides, built = [f"SYM{index}" for index in range(workload["symbols"])], ("sell", "buy"), []
    for op, sym, oid, is_buy, price, qty in workload["commands"]:
        account = 1 + oid % 1024
        if op == LIMIT:
            built.append(Limit(names[sym], account, str(oid), sides[is_buy], price, qty, "gtc", "none"))
        elif op == CANCEL:
            built.append(Cancel(names[sym], account, oid))
        else:
            built.append(Market(names[sym], account, str(oid), sides[is_buy], qty, "none"))
    return built


def run_durable(workload: dict, batch: int) -> dict:
    """Submit the workload in batches to a journaled engine (fsync policy); time each batch."""
    sys.path.insert(0, str(ROOT))
    from engine.core import TRADE
    from engine.durable import DurableEngine

    commands = as_commands(workload)
    count = [0, 0]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_JOURNAL_DIR")) as directory:
        durable = DurableEngine.open(Path(directory), markets(workload["symbols"]), snapshot_every=10**12)
        latencies = []
        gc.collect()
        gc.freeze()
        pauses = _watch_gc()
        clock = time.perf_counter_ns
        for start in range(0, len(commands), batch):
            if start // SETTLE_EVERY != (start + batch) // SETTLE_EVERY:
                settle()
            chunk = commands[start : start + batch]
            began = clock()
            for events in durable.submit(chunk, source=str(start)):
                if len(events) > 1:
                    for event in events:
                        if event[-1] is TRADE:
                            count[0] += 1
                            count[1] += event[5]
            latencies.extend([clock() - began] * len(chunk))
        durable.close(snapshot=False)
    busy = sum(latencies[::batch])
    latencies.sort()
    return {"fills": count, "busy_ns": busy, "latencies": _percentiles(latencies), "gc_ms": max(pauses, default=0)}


def settle() -> None:
    """Collect young garbage and freeze the survivors, as the engine worker does on its tick.

    The books are long-lived containers the cyclic GC would otherwise walk in every full
    collection (orders dicts, level deques); frozen, they are never walked, and the core makes
    no reference cycles (tests/engine/test_core_garbage.py), so nothing is kept that refcounting
    would not free.
    """
    gc.collect(1)
    gc.freeze()


def _watch_gc() -> list[float]:
    """Record the duration (ms) of every cyclic GC collection from now on."""
    pauses: list[float] = []
    started = [0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter_ns()
        else:
            pauses.append((time.perf_counter_ns() - started[0]) / 1e6)

    gc.callbacks.append(callback)
    return pauses


def run_one(name: str, workload_path: str, batch: int) -> dict:
    """Time every command of the workload through one runner (in a fresh process)."""
    with open(workload_path, "rb") as file:
        workload = marshal.load(file)  # noqa: S302  (the file this script just wrote)
    if name == DURABLE:
        return run_durable(workload, batch)
    commands = workload["commands"]
    limit, market, cancel, fills = RUNNERS[name](workload["symbols"])
    latencies = [0] * len(commands)
    gc.collect()
    gc.freeze()  # the workload itself is not the engine's garbage
    pauses = _watch_gc()
    clock = time.perf_counter_ns
    for index, (op, sym, oid, is_buy, price, qty) in enumerate(commands):
        if not index % SETTLE_EVERY:
            settle()
        start = clock()
        if op == LIMIT:
            limit(sym, oid, is_buy, price, qty)
        elif op == CANCEL:
            cancel(sym, oid)
        else:
            market(sym, oid, is_buy, qty)
        latencies[index] = clock() - start
    latencies.sort()
    return {
        "fills": list(fills()),
        "busy_ns": sum(latencies),
        "latencies": _percentiles(latencies),
        "gc_ms": max(pauses, default=0),
    }


def _percentiles(ordered: list[int]) -> dict[str, float]:
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e3  # noqa: E731
    return {"p50": pick(0.5), "p99": pick(0.99), "p99.9": pick(0.999), "max": ordered[-1] / 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--symbols", default="1,8", help="comma-separated symbol counts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1_000, help="commands per group commit (journaled row)")
    parser.add_argument("--extras-only", action="store_true", help="only memory, snapshot and replay")
    parser.add_argument("--no-extras", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile engine.limit(...) on 1 symbol, then stop")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--extras-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child, args.batch)))
        return
    if args.extras_child:
        print(json.dumps(extras(args.extras_child, args.commands, args.seed)))
        return
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.commands:,} commands, seed {args.seed}")
    if args.profile:
        profile(args.commands, args.seed)
        return
    if not args.extras_only:
        for symbols in [int(part) for part in args.symbols.split(",")]:
            compare(args.commands, symbols, args.seed, args.batch)
    if not args.no_extras:
        report_extras(args.commands, args.seed)


def compare(count: int, symbols: int, seed: int, batch: int) -> None:
    """Generate one workload, run every runner on it in its own process, print the table."""
    workload = generate(count, symbols, seed)
    with tempfile.NamedTemporaryFile(suffix=".marshal", delete=False) as file:
        marshal.dump(workload, file)
    print(f"\n## {symbols} symbol(s): expected fills {workload['fills'][0]:,}, volume {workload['fills'][1]:,}")
    print(
        f"{'runner':32} {'cmd/s':>10} {'ratio':>6} {'p50 us':>7} {'p99 us':>7} {'p99.9 us':>8} {'max us':>8} "
        f"{'gc ms':>6}  fills"
    )
    reference_rate = None
    rates = {}
    try:
        for name in [*RUNNERS, DURABLE]:
            child = [sys.executable, __file__, "--child", name, file.name, "--batch", str(batch)]
            result = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
            rate = rates[name] = count / (result["busy_ns"] / 1e9)
            reference_rate = reference_rate or rate
            lat = result["latencies"]
            same = "same" if tuple(result["fills"]) == tuple(workload["fills"]) else f"DIFFERENT {result['fills']}"
            print(
                f"{name:32} {rate:>10,.0f} {rate / reference_rate:>6.2f} {lat['p50']:>7.2f} {lat['p99']:>7.2f} "
                f"{lat['p99.9']:>8.1f} {lat['max']:>8.0f} {result['gc_ms']:>6.1f}  {same}",
                flush=True,
            )
    finally:
        os.unlink(file.name)
    print(
        f"journaled / in memory: {rates[DURABLE] / rates['engine.core submit(command)']:.2f} of submit(command), "
        f"{rates[DURABLE] / rates['engine.core engine.limit(...)']:.2f} of engine.limit(...); "
        f"{DURABLE} latencies are per batch of {batch:,} (start to fsync)"
    )


def profile(count: int, seed: int) -> None:
    """Where the engine's time goes: cProfile of `engine.limit(...)` on one symbol, by own time.

    cProfile's per-call cost inflates small functions, so read the shares, not the totals.
    """
    import cProfile
    import pstats

    commands = generate(count, 1, seed)["commands"]
    limit, market, cancel, _ = engine_runner(1, direct=True)
    profiler = cProfile.Profile()
    profiler.enable()
    for op, sym, oid, is_buy, price, qty in commands:
        if op == LIMIT:
            limit(sym, oid, is_buy, price, qty)
        elif op == CANCEL:
            cancel(sym, oid)
        else:
            market(sym, oid, is_buy, qty)
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(14)


def rss_mb() -> float:
    """Return this process's resident memory in MB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def extras(what: str, count: int, seed: int) -> dict:
    """Measure one extra in a fresh process: `memory` (and snapshot) or `replay`."""
    sys.path.insert(0, str(ROOT))
    from engine.core import Engine, dump, load
    from engine.durable import recover
    from engine.journal import Journal, SyncPolicy

    if what == "memory":
        baseline = rss_mb()
        engine = Engine(markets(1))
        limit, rng = engine.limit, random.Random(seed)  # noqa: S311
        for oid in range(1, count + 1):  # resting orders on 2,000 levels a side, none crossing
            is_buy = oid % 2
            price = START_MID - 1 - rng.randrange(2_000) if is_buy else START_MID + 1 + rng.randrange(2_000)
            limit("SYM0", 1 + oid % 1024, str(oid), ("sell", "buy")[is_buy], price, rng.randint(1, 100), "gtc", "none")
        gc.collect()
        resting = rss_mb()
        started = time.perf_counter()
        data = dump(engine)
        dumped = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_JOURNAL_DIR")) as directory:
            Journal(Path(directory)).write_snapshot(engine.last_seq, data)
            written = time.perf_counter()
        restored = load(data)
        loaded = time.perf_counter()
        assert restored.last_seq == engine.last_seq
        return {
            "baseline_mb": baseline,
            "resting_mb": resting,
            "snapshot_mb": len(data) / 1e6,
            "dump_s": dumped - started,
            "write_s": written - dumped,
            "load_s": loaded - written,
        }
    workload = generate(count, 1, seed)
    commands = as_commands(workload)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_JOURNAL_DIR")) as directory:
        from engine.durable import DurableEngine

        durable = DurableEngine.open(Path(directory), markets(1), policy=SyncPolicy.NONE, snapshot_every=10**12)
        for start in range(0, len(commands), 1_000):
            durable.submit(commands[start : start + 1_000], source=str(start))
        durable.close(snapshot=False)
        del durable, commands, workload
        gc.collect()
        gc.freeze()
        engine, recovery = recover(Journal(Path(directory)), markets(1))
    return {"replayed": recovery.replayed, "seconds": recovery.seconds}


def report_extras(count: int, seed: int) -> None:
    """Print memory, snapshot and replay figures, each measured in its own process."""
    results = {}
    for what in ("memory", "replay"):
        child = [sys.executable, __file__, "--extras-child", what, "--commands", str(count), "--seed", str(seed)]
        results[what] = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
    memory, replay = results["memory"], results["replay"]
    print(f"\n## extras, 1 symbol, {count:,} orders or commands")
    print(
        f"RSS with {count:,} resting orders: {memory['resting_mb']:.0f} MB "
        f"({memory['resting_mb'] - memory['baseline_mb']:.0f} MB over the {memory['baseline_mb']:.0f} MB interpreter)"
    )
    print(
        f"snapshot of them: {memory['snapshot_mb']:.1f} MB; dump {memory['dump_s']:.2f} s, "
        f"write+fsync {memory['write_s']:.2f} s, load {memory['load_s']:.2f} s"
    )
    print(
        f"replay: {replay['replayed']:,} commands recovered from the journal in {replay['seconds']:.2f} s "
        f"= {replay['replayed'] / replay['seconds']:,.0f} commands/s"
    )


if __name__ == "__main__":
    main()
