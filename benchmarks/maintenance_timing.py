"""Benchmark: do maintenance windows start and end on time, with the engine switched, through the real processes?

    .venv/bin/python benchmarks/maintenance_timing.py               # 5 windows
    .venv/bin/python benchmarks/maintenance_timing.py --windows 10

Issue 8's bar: a window starts within 30 s of its scheduled time, by Celery beat. The processes
are the ones `make run` starts — the engine supervisor and its worker, a Celery worker and Celery
beat (whose maintenance tick runs every 10 s) — on a private SQLite database and a private
embedded Redis.

Each round schedules a window on BTC-USD trading that halts BTC-USD, starting 5 to 15 s ahead
(a random phase of the tick) and lasting 20 s, then measures from the scheduled start to the
window being in progress and to the engine reporting the market halted; and from the scheduled
end to the market open again and to the window completed (engine health confirmed). Prints each
round, the median and the worst, and the ratio to the bar and to the tick interval.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.alert_latency import environment, setup_django, start, wait_for_heartbeat  # noqa: E402

BAR_SECONDS = 30.0
DURATION = timedelta(seconds=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="maintenance-timing-") as name:
        directory = Path(name)
        from exchange_console.embedded_redis import EmbeddedRedis

        redis_server = EmbeddedRedis(directory / "redis")
        (directory / "redis").mkdir()
        redis_process = redis_server.spawn()
        try:
            run(directory, redis_server.url, arguments.windows)
        finally:
            redis_process.terminate()
            redis_process.wait(10)


def run(directory: Path, redis_url: str, windows: int) -> None:
    import subprocess

    env = environment(directory, redis_url)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([python, "manage.py", "bootstrap"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    setup_django(env)
    celery = [python, "-m", "celery", "-A", "exchange_console"]
    worker = [*celery, "worker", "--concurrency", "1", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
    beat = [*celery, "beat", "--loglevel", "WARNING", "-s", str(directory / "beat-schedule")]
    processes = [
        start([python, "manage.py", "run_engine"], env, directory / "engine.log"),
        start(worker, env, directory / "worker.log"),
        start(beat, env, directory / "beat.log"),
    ]
    try:
        wait_for_heartbeat(timeout=60)
        time.sleep(3)
        results = [measure(number) for number in range(1, windows + 1)]
        report(results)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(30)


def mode() -> str | None:
    from engine.client import EngineClient
    from engine.models import Market

    metrics = EngineClient(Market.objects.get(symbol="BTC-USD").shard).latest_metrics(max_age=3)
    return None if metrics is None else metrics["markets"]["BTC-USD"]["mode"]


def measure(number: int) -> dict[str, float]:
    from django.utils import timezone

    from engine.models import Market
    from incidents.maintenance import services
    from incidents.maintenance.models import MaintenanceWindow
    from incidents.models import Component

    market = Market.objects.get(symbol="BTC-USD")
    now = timezone.now()
    begins = now + timedelta(seconds=random.uniform(5, 15))  # noqa: S311 (timing, not secrets)
    window = services.schedule_window(
        title=f"Timing round {number}", scheduled_for=begins, scheduled_until=begins + DURATION,
        components=[Component.objects.get(market=market)], by=None, actions={market: "halted"}, notice_hours=[],
    )  # fmt: skip
    start_at, end_at = window.scheduled_for.timestamp(), window.scheduled_until.timestamp()
    halted = wait_until(lambda: mode() == "halted", timeout=60) - start_at
    window.refresh_from_db()
    started = window.started_at.timestamp() - start_at
    reopened = wait_until(lambda: mode() == "open", timeout=90) - end_at
    wait_until(lambda: MaintenanceWindow.objects.get(pk=window.pk).status == "completed", timeout=90)
    window.refresh_from_db()
    result = {
        "started": started, "halted": halted, "reopened": reopened,
        "completed": window.completed_at.timestamp() - end_at,
    }  # fmt: skip
    print(f"round {number}: in progress {started:.1f} s after its start, market halted at {halted:.1f} s; "
          f"reopened {reopened:.1f} s after its end, completed at {result['completed']:.1f} s")  # fmt: skip
    return result


def wait_until(condition, *, timeout: float) -> float:
    """Wait for `condition`; return the time it first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(0.1)
    raise SystemExit("timed out; see the worker, beat and engine logs")


def report(results: list[dict]) -> None:
    from django.conf import settings

    interval = settings.CELERY_BEAT_SCHEDULE["maintenance-tick"]["schedule"].total_seconds()
    labels = {"started": "scheduled start -> in progress", "halted": "scheduled start -> halted",
              "reopened": "scheduled end -> reopened", "completed": "scheduled end -> completed"}  # fmt: skip
    for what, label in labels.items():
        figures = [result[what] for result in results]
        print(f"{label}: median {statistics.median(figures):.1f} s, worst {max(figures):.1f} s "
              f"(ratio to the {BAR_SECONDS:g} s bar {max(figures) / BAR_SECONDS:.2f}, "
              f"to the {interval:g} s tick {max(figures) / interval:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
