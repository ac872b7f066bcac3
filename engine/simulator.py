"""A market simulator: realistic order flow into the engine, for the demo, for load and for drills.

Orders arrive as a Poisson process at `rate` per second (with occasional bursts at five times
that), spread over the shard's markets, each with its own random-walking mid: about 70%
passive limit orders a few ticks from the mid, 4% limit orders through it, 3% market orders
and 23% cancels of the simulator's own live orders (tracked from the acknowledgements). Orders
are sent the way bulk clients send them: several per stream entry, one entry per tick, with
the simulator's own reply list, and every acknowledgement is kept as the client's record
(drills check it against the journal).
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from engine.core.events import ACCEPTED, CANCELLED, REJECTED, TRADE
from engine.streams import Keys, command_entry, unpack

FIRST_ACCOUNT = 900_000_000  # simulated accounts, far above any user's id


@dataclass
class SimulatedMarket:
    symbol: str
    mid: int  # ticks
    min_qty: int = 1
    max_qty: int = 100


@dataclass
class LiveOrders:
    """The simulator's resting orders in one market, for choosing one to cancel in O(1)."""

    ids: list[int] = field(default_factory=list)
    where: dict[int, int] = field(default_factory=dict)  # order id -> index in ids
    open: dict[int, list] = field(default_factory=dict)  # order id -> [account, open lots]

    def add(self, order_id: int, account: int, qty: int) -> None:
        self.where[order_id] = len(self.ids)
        self.ids.append(order_id)
        self.open[order_id] = [account, qty]

    def fill(self, order_id: int, qty: int) -> None:
        held = self.open.get(order_id)
        if held is not None:
            held[1] -= qty
            if held[1] <= 0:
                self.remove(order_id)

    def remove(self, order_id: int) -> None:
        index = self.where.pop(order_id, None)
        if index is None:
            return
        self.open.pop(order_id, None)
        last = self.ids.pop()
        if last != order_id:
            self.ids[index] = last
            self.where[last] = index

    def pick(self, rng: random.Random) -> tuple[int, int] | None:
        if not self.ids:
            return None
        order_id = self.ids[rng.randrange(len(self.ids))]
        return order_id, self.open[order_id][0]


@dataclass
class Progress:
    sent: int = 0
    entries: int = 0
    acked: int = 0
    rejected: int = 0
    trades: int = 0
    errors: int = 0


class Simulator:
    def __init__(
        self,
        redis_url: str,
        shard: str,
        markets: list[SimulatedMarket],
        *,
        rate: float,
        seed: int | None = None,
        accounts: int = 50,
        tick_seconds: float = 0.02,
        burst_chance: float = 0.02,
        keep_acks: bool = False,
    ) -> None:
        if not markets:
            raise ValueError("the simulator needs at least one market")
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
        self.keys = Keys(shard)
        self.markets = markets
        self.live = {market.symbol: LiveOrders() for market in markets}
        self.rate = rate
        self.rng = random.Random(seed)  # noqa: S311 (market flow, not secrets)
        self.accounts = accounts
        self.tick_seconds = tick_seconds
        self.burst_chance = burst_chance
        self.burst_until = 0.0
        self.run_id = uuid.uuid4().hex[:8]
        self.reply = f"{self.keys.prefix}:sim:{self.run_id}"
        self.progress = Progress()
        self.keep_acks = keep_acks
        self.sent: dict[str, float] = {}  # entry id -> send time (kept only with keep_acks)
        self.acks: dict[str, tuple[float, list]] = {}  # entry id -> (receive time, results)
        self.in_flight = 0
        self.number = 0

    # -- flow -------------------------------------------------------------------------------

    def run(self, duration: float | None, *, report: Callable[[Progress, float], None] | None = None,
            report_every: float = 1.0, should_stop: Callable[[], bool] = lambda: False) -> Progress:  # fmt: skip
        """Send flow for `duration` seconds (None: until `should_stop`), then collect the last acks."""
        started = last_report = time.monotonic()
        next_tick = started
        while not should_stop() and (duration is None or time.monotonic() - started < duration):
            now = time.monotonic()
            self._send(self._orders(self._arrivals(now)))
            self.collect()
            if report is not None and now - last_report >= report_every:
                report(self.progress, self.progress.sent / max(now - started, 1e-9))
                last_report = now
            next_tick += self.tick_seconds
            time.sleep(max(0.0, next_tick - time.monotonic()))
        return self.progress

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait for every sent entry to be acknowledged; False if some never were."""
        deadline = time.monotonic() + timeout
        while self.in_flight > 0 and time.monotonic() < deadline:
            self.collect()
            time.sleep(0.01)
        return self.in_flight == 0

    def _arrivals(self, now: float) -> int:
        if now >= self.burst_until and self.rng.random() < self.burst_chance * self.tick_seconds:
            self.burst_until = now + self.rng.uniform(2.0, 5.0)
        rate = self.rate * (5 if now < self.burst_until else 1)
        return _poisson(self.rng, rate * self.tick_seconds)

    def _orders(self, count: int) -> list[list]:
        orders, rng = [], self.rng
        for _ in range(count):
            market = self.markets[rng.randrange(len(self.markets))]
            if rng.random() < 0.1:
                market.mid = max(market.mid + rng.choice((-1, 1)), 10)
            self.number += 1
            client_id = f"sim-{self.run_id}-{self.number}"
            account = FIRST_ACCOUNT + rng.randrange(self.accounts)
            is_buy = rng.random() < 0.5
            side = "buy" if is_buy else "sell"
            qty = max(market.min_qty, min(market.max_qty, rng.randint(1, 100)))
            roll = rng.random()
            if roll < 0.23 and (chosen := self.live[market.symbol].pick(rng)) is not None:
                order_id, owner = chosen
                self.live[market.symbol].remove(order_id)  # do not cancel it twice
                orders.append([3, market.symbol, owner, order_id])
            elif roll < 0.26:
                orders.append([2, market.symbol, account, client_id, side, qty, "none"])
            elif roll < 0.30:
                through = rng.randint(1, 6)
                price = market.mid + through if is_buy else market.mid - through
                orders.append([1, market.symbol, account, client_id, side, max(price, 1), qty, "gtc", "none"])
            else:
                away = 1 + int(rng.expovariate(1 / 8))
                price = market.mid - away if is_buy else market.mid + away
                orders.append([1, market.symbol, account, client_id, side, max(price, 1), qty, "gtc", "none"])
        return orders

    def _send(self, orders: list[list]) -> None:
        if not orders:
            return
        try:
            entry_id = self.redis.xadd(self.keys.commands, command_entry(orders, self.reply)).decode()
        except redis.RedisError:
            self.progress.errors += 1
            return
        self.progress.sent += len(orders)
        self.progress.entries += 1
        self.in_flight += 1
        if self.keep_acks:
            self.sent[entry_id] = time.monotonic()

    def collect(self) -> int:
        """Take every acknowledgement waiting on the reply list; return how many."""
        try:
            raw = self.redis.lpop(self.reply, 1000)
        except redis.RedisError:
            self.progress.errors += 1
            return 0
        received = time.monotonic()
        for item in raw or []:
            entry_id, results = unpack(item)
            self.in_flight -= 1
            if self.keep_acks:
                self.acks[entry_id] = (received, results)
            self._learn(results)
        return len(raw or [])

    def _learn(self, results: list) -> None:
        progress = self.progress
        for events in results:
            progress.acked += 1
            first = events[0]
            if first[-1] == REJECTED:
                progress.rejected += 1
                continue
            for event in events:
                kind = event[-1]
                if kind == ACCEPTED and event[6] is not None:  # a limit order: it may rest
                    self.live[event[2]].add(event[1], event[3], event[7])
                elif kind == TRADE:
                    progress.trades += 1
                    live = self.live[event[1]]
                    live.fill(event[2], event[5])
                    live.fill(event[3], event[5])
                elif kind == CANCELLED:
                    for live in self.live.values():
                        live.remove(event[1])


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method; normal approximation for large means)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def markets_of(shard: str) -> list[SimulatedMarket]:
    """The shard's markets from the database, with the mid at the reference price (or 10,000 ticks)."""
    from engine.models import Market

    return [
        SimulatedMarket(market.symbol, market.reference_price or 10_000, market.min_qty, min(market.max_qty, 100))
        for market in Market.objects.filter(shard=shard)
    ]
