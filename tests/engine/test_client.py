"""EngineClient: every way the engine can fail to answer is one exception, raised in time."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from engine.client import EngineClient, EngineUnavailable
from engine.streams import Keys, pack
from tests.support.engine import running_worker, unique_shard, wait_for_heartbeat


@pytest.fixture
def test_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def test_it_refuses_at_once_when_no_worker_heartbeats():
    client = EngineClient(unique_shard())

    started = time.monotonic()
    with pytest.raises(EngineUnavailable) as raised:
        client.request([[3, "BTC-USD", 1, 1]], timeout=5)

    assert time.monotonic() - started < 1
    assert raised.value.retry_after > 0


def test_a_missing_acknowledgement_times_out_and_leaves_no_reply_list(test_redis):
    shard = unique_shard()
    test_redis.set(Keys(shard).heartbeat, pack({"pid": 0, "time": time.time(), "sequence": 0}), px=5_000)
    client = EngineClient(shard)

    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match="did not acknowledge"):
        client.request([[3, "BTC-USD", 1, 1]], timeout=0.3)

    assert 0.3 <= time.monotonic() - started < 2
    assert not test_redis.keys(f"{Keys(shard).prefix}:replies:*")
    test_redis.delete(Keys(shard).heartbeat, Keys(shard).commands)


def test_an_unreachable_redis_is_an_unavailable_engine():
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    client = EngineClient(unique_shard(), redis_client=dead)

    assert client.alive() is False
    assert client.latest_metrics() is None
    with pytest.raises(EngineUnavailable):
        client.set_mode("BTC-USD", "halted", reason="drill")


def test_a_mode_change_with_no_supervisor_is_refused_at_once():
    with pytest.raises(EngineUnavailable, match="no supervisor"):
        EngineClient(unique_shard()).set_mode("BTC-USD", "halted", reason="drill", timeout=5)


def test_it_answers_with_the_worker_s_events_and_reads_its_metrics(tmp_path):
    with running_worker(tmp_path, metrics_interval=0.1) as worker:
        client = EngineClient(worker.config.shard)
        wait_for_heartbeat(worker.config.shard)

        [events] = client.request([[1, "BTC-USD", 7, "a1", "buy", 10_000, 5]])

        assert client.alive()
        assert events[0][-1] == "accepted"
        deadline = time.monotonic() + 5
        while (metrics := client.latest_metrics(max_age=5)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metrics["markets"]["BTC-USD"]["mode"] == "open"
