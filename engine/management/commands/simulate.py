"""`python manage.py simulate`: realistic order flow into the engine (see engine.simulator)."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from engine.simulator import Progress, Simulator, markets_of
from engine.streams import DEFAULT_SHARD


class Command(BaseCommand):
    help = "Send simulated order flow to the engine and print a progress line (orders sent, acked, rejected, rate)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--shard", default=getattr(settings, "ENGINE_SHARD", DEFAULT_SHARD))
        parser.add_argument("--rate", type=float, default=1_000.0, help="orders per second (Poisson; bursts at 5x)")
        parser.add_argument("--markets", type=int, help="use only the first N markets of the shard")
        parser.add_argument("--duration", type=float, help="seconds (default: until Ctrl-C)")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--demo", action="store_true", help="gentle flow for `make run`: a line every 10 s")

    def handle(self, *args, **options) -> None:
        markets = markets_of(options["shard"])[: options["markets"]]
        if not markets:
            raise CommandError(f"no markets in shard {options['shard']!r}: run `manage.py bootstrap` first")
        if options["rate"] <= 0:
            raise CommandError("--rate must be positive")
        simulator = Simulator(settings.REDIS_URL, options["shard"], markets, rate=options["rate"], seed=options["seed"])
        stopping = []
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: stopping.append(True))
        symbols = ", ".join(market.symbol for market in markets)
        self.stdout.write(f"Simulating {options['rate']:,.0f} orders/s on {symbols} (shard {options['shard']!r})")
        self.stdout.flush()
        progress = simulator.run(
            options["duration"],
            report=self._report,
            report_every=10.0 if options["demo"] else 1.0,
            should_stop=lambda: bool(stopping),
        )
        simulator.drain(timeout=5.0)
        self._report(progress, None)

    def _report(self, progress: Progress, rate: float | None) -> None:
        line = (
            f"simulate: {progress.sent:,} sent, {progress.acked:,} acked, {progress.rejected:,} rejected, "
            f"{progress.trades:,} trades"
        )
        if rate is not None:
            line += f", {rate:,.0f} orders/s"
        if progress.errors:
            line += f", {progress.errors:,} Redis errors"
        self.stdout.write(line)
        self.stdout.flush()
