"""Telemetry from a supervised engine: the Channels group `engine.health`, minute roll-ups, their pruning."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from channels.layers import get_channel_layer

from engine.health import HEALTH_GROUP, MESSAGE_TYPE
from engine.models import HealthMinute
from engine.tasks import prune_health_task
from tests.support.engine import Client, market_shard, supervisor, wait_for_event
from tests.support.health import SCHEMA

pytestmark = [pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]


def test_status_metrics_and_events_reach_the_health_group_and_the_minute_table(tmp_path):
    shard = market_shard()
    seen, done, listener = listen(shard)
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        Client(shard).request([[1, "BTC-USD", 1, "t1", "buy", 9_000, 3]])
        assert done.wait(20), f"heard {seen}"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    listener.join(5)
    kinds = [message["data"]["kind"] for message in seen["event"]]
    assert "recovered" in kinds
    assert seen["metrics"][0]["data"]["markets"]["BTC-USD"]["mode"] == "open"
    assert "running" in {message["data"]["state"] for message in seen["status"]}
    everything = sorted((message for messages in seen.values() for message in messages), key=lambda m: m["seq"])
    seqs = [message["seq"] for message in everything]
    assert seqs == sorted(set(seqs)), "no two messages share a sequence number"
    minutes = HealthMinute.objects.filter(shard=shard)
    assert minutes.exists()  # the minute in progress is written when the supervisor stops
    assert sum(minute.commands for minute in minutes) == 1
    assert all(minute.samples >= 1 for minute in minutes)


def test_status_comes_about_ten_times_a_second(tmp_path):
    shard = market_shard()
    seen, done, listener = listen(shard)
    with supervisor(tmp_path, shard) as process:
        wait_for_event(shard, "recovered", process=process)
        first = len(seen["status"])
        time.sleep(2)
        heard = len(seen["status"]) - first
        done.set()
    listener.join(5)
    assert 12 <= heard <= 22, f"{heard} status messages in 2 s"


def listen(shard: str) -> tuple[dict[str, list[dict]], threading.Event, threading.Thread]:
    """Start hearing `shard`'s messages on the health group in a thread; set `done` to stop."""
    seen: dict[str, list[dict]] = {"status": [], "metrics": [], "event": []}
    subscribed, done = threading.Event(), threading.Event()
    listener = threading.Thread(target=asyncio.run, args=(_listen(shard, seen, subscribed, done),), daemon=True)
    listener.start()
    assert subscribed.wait(10)
    return seen, done, listener


async def _listen(shard: str, seen: dict, subscribed: threading.Event, done: threading.Event) -> None:
    """Join the health group (in this thread's event loop) and keep what concerns `shard`, validated."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(HEALTH_GROUP, channel)
    subscribed.set()
    try:
        async with asyncio.timeout(40):
            while not done.is_set():
                message = await layer.receive(channel)
                assert message["type"] == MESSAGE_TYPE
                body = json.loads(message["text"])
                if body["shard"] != shard:
                    continue
                SCHEMA.validate(body)
                seen[body["type"]].append(body)
                if _complete(seen):
                    done.set()
    except TimeoutError:
        pass
    finally:
        await layer.group_discard(HEALTH_GROUP, channel)


def _complete(seen: dict) -> bool:
    """A metrics snapshot counting a command, the recovery event and a running status: all heard."""
    return (
        any(metrics["data"]["commands"] for metrics in seen["metrics"])
        and any(event["data"]["kind"] == "recovered" for event in seen["event"])
        and any(status["data"]["state"] == "running" for status in seen["status"])
    )


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
