"""The simulator and the recovery drills against a supervised engine: real processes, real Redis.

Drills are run here for their verdict on data (RPO 0, nothing applied twice, the engine answers
again); their recovery times are measured, not asserted: speed is for the benchmark.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.models import DrillResult
from exchange_console.paths import BASE_DIR
from tests.support.engine import market_shard, supervisor, wait_for_event
from tests.support.processes import child_env, private_redis

pytestmark = [pytest.mark.timeout(240), pytest.mark.django_db(transaction=True)]

QUICK = ["--rate", "400", "--warmup", "1.0", "--after", "0.5"]


def manage(*arguments: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=BASE_DIR, env=env or child_env(), capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip


def test_simulate_sends_flow_and_reports_progress(tmp_path):
    shard = market_shard(("BTC-USD", "ETH-USD"))
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        done = manage("simulate", "--shard", shard, "--rate", "500", "--duration", "2", "--seed", "3")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("simulate:")]
    assert len(lines) >= 2  # a live line each second, and the last one
    final = lines[-1]
    sent, acked = (int(part.split()[0].replace(",", "")) for part in final.removeprefix("simulate: ").split(", ")[:2])
    assert sent > 300
    assert acked == sent  # every order answered once the flow stopped


def test_simulate_refuses_a_shard_without_markets(db):
    done = manage("simulate", "--shard", "nowhere", "--duration", "1")
    assert done.returncode != 0
    assert "no markets" in done.stderr


@pytest.mark.parametrize("fault", ["crash", "hang"])
def test_a_drill_measures_recovery_and_loses_no_acknowledged_order(tmp_path, fault):
    shard = market_shard()
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        done = manage("engine_drill", fault, "--shard", shard, *QUICK)
        wait_for_event(shard, "recovered", 2, process=process)
    assert done.returncode == 0, done.stdout + done.stderr
    result = DrillResult.objects.get(shard=shard)
    assert result.fault == fault
    assert result.rpo_orders == 0
    assert result.detail["doubled"] == 0
    assert result.detail["unverifiable"] == 0
    assert result.rto_seconds is not None  # the engine answered again (how fast is the benchmark's business)
    assert result.acknowledged > 100
    assert f"drill {fault}: RTO" in done.stdout


def test_a_redis_restart_drill(tmp_path):
    shard = market_shard()
    with private_redis(tmp_path / "redis") as server:
        server.ensure_daemon()
        env = child_env(REDIS_URL=server.url)
        with supervisor(tmp_path, shard, env=env) as process:
            wait_for_event(shard, "recovered", process=process)
            done = manage(
                "engine_drill",
                "redis",
                "--shard",
                shard,
                *QUICK,
                "--embedded-redis-dir",
                str(tmp_path / "redis"),
                env=env,
            )
    assert done.returncode == 0, done.stdout + done.stderr
    result = DrillResult.objects.get(shard=shard)
    assert result.rpo_orders == 0
    assert result.detail["doubled"] == 0
    assert result.rto_seconds is not None


def test_a_drill_refuses_an_engine_that_is_not_running(db):
    shard = market_shard()
    done = manage("engine_drill", "crash", "--shard", shard)
    assert done.returncode != 0
    assert "is not running" in done.stderr
