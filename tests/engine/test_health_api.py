"""`GET /api/v1/engine/health/`: the window a dashboard backfills and history charts draw."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings

from engine.health import sequence_key
from engine.models import EngineEvent, HealthMinute
from engine.streams import Keys, pack
from tests.console.test_role_matrix import ANONYMOUS, OUTSIDER, VIEWER, client_for
from tests.support.engine import unique_shard

pytestmark = pytest.mark.django_db
HEALTH = "/api/v1/engine/health/"


def snapshot(at: float, commands_per_s: float) -> dict:
    market = {"mode": "open", "tick_size": "0.01", "commands_per_s": commands_per_s, "depth": {"bids": [[1, 2]]}}
    markets = {"BTC-USD": market}
    return {"shard": "x", "time": at, "commands_per_s": commands_per_s, "queue_depth": 0, "markets": markets}


@pytest.fixture
def shard() -> str:
    """A shard with 30 one-second snapshots in its Redis series, ending now."""
    name = unique_shard()
    connection = redis.Redis.from_url(settings.REDIS_URL)
    now = time.time()
    for back in range(30, 0, -1):
        at = now - back
        connection.xadd(Keys(name).metrics, {"m": pack(snapshot(at, float(back)))}, id=f"{int(at * 1000)}-0")
    return name


def get(persona, name: str, **query):
    return client_for(persona, name).get(HEALTH, query)


@pytest.mark.parametrize(("name", "code"), [(ANONYMOUS, 401), (OUTSIDER, 403)])
def test_only_console_users_read_the_health_series(persona, shard, name, code):
    assert get(persona, name, since=time.time() - 60, shard=shard).status_code == code


def test_recent_windows_come_as_one_second_snapshots_without_the_depth_of_book(persona, shard):
    body = get(persona, VIEWER, since=time.time() - 10.5, shard=shard).json()
    assert body["resolution"] == "1s"
    assert [point["commands_per_s"] for point in body["metrics"]] == [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    assert "depth" not in body["metrics"][0]["markets"]["BTC-USD"]
    assert body["metrics"][0]["markets"]["BTC-USD"]["commands_per_s"] == 10.0


def test_the_window_carries_the_engine_events_in_it_and_the_latest_sequence_number(persona, shard):
    EngineEvent.objects.create(shard=shard, kind="crashed", severity="critical", message="old",
                               at=datetime.now(tz=UTC) - timedelta(hours=1))  # fmt: skip
    EngineEvent.objects.create(shard=shard, kind="restarted", severity="warning", message="worker restarted")
    redis.Redis.from_url(settings.REDIS_URL).set(sequence_key(shard), 41)
    body = get(persona, VIEWER, since=time.time() - 60, shard=shard).json()
    assert [event["message"] for event in body["events"]] == ["worker restarted"]
    assert body["last_seq"] == 41


def test_old_or_long_windows_come_per_minute_from_the_roll_ups(persona, shard):
    start = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(days=3)
    for minute in range(3):
        HealthMinute.objects.create(
            shard=shard, minute=start + timedelta(minutes=minute), samples=60, commands=600 * (minute + 1), trades=60,
            rejected=0, commands_per_s_max=20.0, latency_p50_us=300.0, latency_p99_us=900.0, latency_max_us=1200.0,
            queue_depth_max=5, rss_bytes_max=1, cpu_percent_max=3.0,
        )  # fmt: skip
    body = get(persona, VIEWER, since=start.isoformat(), until=(start + timedelta(hours=1)).isoformat(), shard=shard)
    body = body.json()
    assert body["resolution"] == "1m"
    assert [point["commands_per_s"] for point in body["metrics"]] == [10.0, 20.0, 30.0]
    assert body["metrics"][0]["latency_us"] == {"p50": 300.0, "p99": 900.0, "p999": None, "max": 1200.0}
    assert body["metrics"][0]["time"] == start.timestamp() + 30


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({}, "since"),
        ({"since": "2026-11-23T10:00:00Z", "until": "2026-11-23T09:00:00Z"}, "until"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-11-23T00:00:00Z"}, "since"),
        ({"since": "2026-11-23T00:00:00Z", "until": "2026-11-23T05:00:00Z", "resolution": "1s"}, "resolution"),
        ({"since": "1e400"}, "since"),
    ],
)
def test_a_bad_window_is_a_400_naming_the_field(persona, query, field):
    response = get(persona, VIEWER, **query)
    assert response.status_code == 400
    assert field in response.json()
