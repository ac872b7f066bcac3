"""Telemetry from a supervised engine: the Channels group `engine.health`, minute roll-ups, their pruning."""

from __future__ import annotations

import asyncio
import signal
import threading
from datetime import UTC, datetime, timedelta

import pytest
from channels.layers import get_channel_layer

from engine.models import HealthMinute
from engine.tasks import prune_health_task
from engine.telemetry import HEALTH_GROUP
from tests.support.engine import Client, market_shard, supervisor, wait_for_event

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]


def test_metrics_and_events_reach_the_health_group_and_the_minute_table(tmp_path):
    shard = market_shard()
    seen: dict[str, list[dict]] = {"engine.metrics": [], "engine.event": []}
    subscribed, done = threading.Event(), threading.Event()
    listener = threading.Thread(target=asyncio.run, args=(_listen(shard, seen, subscribed, done),), daemon=True)
    listener.start()
    assert subscribed.wait(10)
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        Client(shard).request([[1, "BTC-USD", 1, "t1", "buy", 9_000, 3]])
        assert done.wait(20), f"heard {seen}"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    listener.join(5)
    kinds = [event["kind"] for event in seen["engine.event"]]
    assert "recovered" in kinds
    assert seen["engine.metrics"][0]["markets"]["BTC-USD"]["mode"] == "open"
    minutes = HealthMinute.objects.filter(shard=shard)
    assert minutes.exists()  # the minute in progress is written when the supervisor stops
    assert sum(minute.commands for minute in minutes) == 1
    assert all(minute.samples >= 1 for minute in minutes)


async def _listen(shard: str, seen: dict, subscribed: threading.Event, done: threading.Event) -> None:
    """Join the health group (in this thread's event loop) and keep what concerns `shard`."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(HEALTH_GROUP, channel)
    subscribed.set()
    try:
        async with asyncio.timeout(40):
            while not done.is_set():
                message = await layer.receive(channel)
                body = message.get("metrics") or message.get("event") or {}
                if body.get("shard") == shard:
                    seen[message["type"]].append(body)
                commands = [metrics for metrics in seen["engine.metrics"] if metrics["commands"]]
                if commands and any(event["kind"] == "recovered" for event in seen["engine.event"]):
                    done.set()
    except TimeoutError:
        pass
    finally:
        await layer.group_discard(HEALTH_GROUP, channel)


def test_minutes_older_than_90_days_are_pruned(db):
    now = datetime.now(tz=UTC).replace(second=0, microsecond=0)
    values = {
        "samples": 60, "commands": 1, "trades": 0, "rejected": 0, "commands_per_s_max": 1.0,
        "queue_depth_max": 0, "rss_bytes_max": 1, "cpu_percent_max": 1.0,
    }  # fmt: skip
    HealthMinute.objects.create(shard="main", minute=now - timedelta(days=91), **values)
    kept = HealthMinute.objects.create(shard="main", minute=now - timedelta(days=89), **values)
    assert prune_health_task() == 1
    assert list(HealthMinute.objects.all()) == [kept]
