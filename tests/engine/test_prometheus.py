"""`/metrics` and `/readyz` report a real worker's health; `/metrics` parses with prometheus-client's parser."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from engine.models import DrillResult, Market
from engine.streams import unpack
from tests.support.engine import Client, running_worker

pytestmark = pytest.mark.timeout(120)


def samples(body: bytes) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def wait_for_metrics(client: Client, keys, *, commands: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        newest = client.redis.xrevrange(keys.metrics, count=1)
        if newest and unpack(newest[0][1][b"m"])["last_sequence"] >= commands:
            return
        time.sleep(0.1)
    raise TimeoutError("no metrics snapshot with the commands")


def test_metrics_expose_the_engine_markets_and_drills(tmp_path, client, viewer):
    with running_worker(tmp_path, metrics_interval=0.2) as worker:
        shard = worker.config.shard
        Market.objects.create(symbol="BTC-USD", shard=shard)
        engine = Client(shard)
        engine.request([[1, "BTC-USD", 1, "a", "sell", 10_025, 2], [1, "BTC-USD", 2, "b", "buy", 10_000, 1]])
        wait_for_metrics(engine, worker.keys, commands=2)
        DrillResult.objects.create(
            shard=shard, fault="crash", rto_seconds=0.42, rpo_orders=0, acknowledged=900, passed=True
        )
        client.force_login(viewer)
        response = client.get("/metrics")
        ready = client.get("/readyz")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response.content)
    assert found[("exchange_engine_up", (("shard", shard),))] == 1
    assert found[("exchange_engine_last_sequence", (("shard", shard),))] == 2
    assert found[("exchange_market_best_ask", (("shard", shard), ("symbol", "BTC-USD")))] == pytest.approx(100.25)
    assert found[("exchange_market_spread", (("shard", shard), ("symbol", "BTC-USD")))] == pytest.approx(0.25)
    assert found[("exchange_market_mode", (("mode", "open"), ("shard", shard), ("symbol", "BTC-USD")))] == 1
    assert found[("exchange_drill_rto_seconds", (("fault", "crash"), ("shard", shard)))] == pytest.approx(0.42)
    assert found[("exchange_drill_rpo_orders", (("fault", "crash"), ("shard", shard)))] == 0
    assert ("exchange_engine_rss_bytes", (("shard", shard),)) in found
    # /readyz reports the configured shard's engine without depending on it.
    assert ready.status_code == 200
    assert "heartbeat_age_seconds" in ready.json()["engine"]


def test_metrics_need_the_token_or_a_console_user(client, db, outsider):
    assert client.get("/metrics").status_code == 401
    with override_settings(METRICS_TOKEN="s3cret-token"):
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    client.force_login(outsider)
    assert client.get("/metrics").status_code == 403


def test_readyz_stays_ready_when_the_engine_is_down(client, db):
    with override_settings(ENGINE_SHARD="no-such-shard"):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["engine"]["alive"] is False
