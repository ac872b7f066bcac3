"""`/metrics`: the engine's health for Prometheus, read fresh from Redis and the database per scrape.

The web process computes nothing itself: each scrape reads every shard's newest metrics
snapshot (the worker's metrics stream), the supervisor's status, the heartbeat, and the latest
drill result per fault, and renders them with prometheus-client. Access: a bearer token equal
to `METRICS_TOKEN` (what a Prometheus scrape config sends), or a console user's session.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from decimal import Decimal

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric

from console.permissions import Capability, can
from engine.client import connection
from engine.core.types import MODES
from engine.models import DrillResult, Market
from engine.streams import DEFAULT_SHARD, Keys, unpack

ENGINE_GAUGES = {  # snapshot key -> (metric name, help)
    "commands_per_s": ("exchange_engine_commands_per_second", "Commands applied per second, last interval."),
    "trades_per_s": ("exchange_engine_trades_per_second", "Trades per second, last interval."),
    "queue_depth": ("exchange_engine_queue_depth", "Command stream entries waiting for the worker."),
    "rss_bytes": ("exchange_engine_rss_bytes", "Resident memory of the worker."),
    "cpu_percent": ("exchange_engine_cpu_percent", "CPU use of the worker (100 = one core)."),
    "last_sequence": ("exchange_engine_last_sequence", "Sequence number of the last command applied."),
    "journal_bytes": ("exchange_engine_journal_bytes", "Size of the journal's segment files."),
    "snapshot_age": ("exchange_engine_snapshot_age_seconds", "Seconds since the last snapshot."),
    "uptime": ("exchange_engine_uptime_seconds", "Seconds since the worker started."),
}
MARKET_GAUGES = {
    "best_bid": ("exchange_market_best_bid", "Best bid price.", True),
    "best_ask": ("exchange_market_best_ask", "Best ask price.", True),
    "spread": ("exchange_market_spread", "Best ask minus best bid.", True),
    "last_price": ("exchange_market_last_price", "Price of the last trade.", True),
    "commands_per_s": ("exchange_market_commands_per_second", "Commands per second for the market.", False),
    "trades_per_s": ("exchange_market_trades_per_second", "Trades per second in the market.", False),
    "resting": ("exchange_market_resting_orders", "Orders resting in the book.", False),
}


class EngineCollector:
    """A prometheus-client collector over the engine's shards, read at collection time."""

    def __init__(self, client: redis.Redis, shards: list[str]) -> None:
        self.redis = client
        self.shards = shards

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("exchange_engine_up", "1 while the worker heartbeats.", labels=["shard"])
        age = GaugeMetricFamily(
            "exchange_engine_heartbeat_age_seconds", "Seconds since the worker's last heartbeat.", labels=["shard"]
        )
        restarts = GaugeMetricFamily(
            "exchange_engine_restarts", "Worker restarts since the supervisor started.", labels=["shard"]
        )
        failed = GaugeMetricFamily(
            "exchange_engine_failed", "1 when the supervisor stopped restarting.", labels=["shard"]
        )
        engine = {key: GaugeMetricFamily(name, text, labels=["shard"]) for key, (name, text) in ENGINE_GAUGES.items()}
        latency = GaugeMetricFamily(
            "exchange_engine_ack_latency_microseconds",
            "Ingest-to-acknowledgement latency over the last interval.",
            labels=["shard", "quantile"],
        )
        markets = {
            key: GaugeMetricFamily(name, text, labels=["shard", "symbol"])
            for key, (name, text, _) in MARKET_GAUGES.items()
        }
        mode = GaugeMetricFamily(
            "exchange_market_mode", "1 for the market's current mode.", labels=["shard", "symbol", "mode"]
        )
        for shard in self.shards:
            keys = Keys(shard)
            pipeline = self.redis.pipeline(transaction=False)
            pipeline.get(keys.heartbeat)
            pipeline.get(keys.status)
            pipeline.xrevrange(keys.metrics, count=1)
            heartbeat, status, newest = pipeline.execute()
            beat = unpack(heartbeat) if heartbeat else None
            up.add_metric([shard], 1 if beat else 0)
            if beat:
                age.add_metric([shard], max(time.time() - beat["time"], 0.0))
            state = unpack(status) if status else {}
            restarts.add_metric([shard], state.get("restarts", 0))
            failed.add_metric([shard], 1 if state.get("state") == "failed" else 0)
            if not newest:
                continue
            snapshot = unpack(newest[0][1][b"m"])
            for key, family in engine.items():
                if snapshot.get(key) is not None:
                    family.add_metric([shard], snapshot[key])
            for quantile, key in (("0.5", "p50"), ("0.99", "p99"), ("0.999", "p999")):
                value = (snapshot.get("latency_us") or {}).get(key)
                if value is not None:
                    latency.add_metric([shard, quantile], value)
            for symbol, market in snapshot.get("markets", {}).items():
                tick = Decimal(market.get("tick_size") or "1")
                for key, (_, _, is_price) in MARKET_GAUGES.items():
                    value = market.get(key)
                    if value is not None:
                        markets[key].add_metric([shard, symbol], float(Decimal(value) * tick) if is_price else value)
                for name in MODES:
                    mode.add_metric([shard, symbol, name], 1 if market.get("mode") == name else 0)
        yield from (up, age, restarts, failed, *engine.values(), latency, *markets.values(), mode)
        yield from _drills()


def _drills() -> Iterator[Metric]:
    """The latest drill per shard and fault: RTO, RPO and whether it passed."""
    labels = ["shard", "fault"]
    rto = GaugeMetricFamily("exchange_drill_rto_seconds", "Recovery time of the latest drill.", labels=labels)
    rpo = GaugeMetricFamily("exchange_drill_rpo_orders", "Acknowledged orders lost in the latest drill.", labels=labels)
    passed = GaugeMetricFamily("exchange_drill_passed", "1 when the latest drill met its bars.", labels=labels)
    when = GaugeMetricFamily("exchange_drill_timestamp_seconds", "When the latest drill ran.", labels=labels)
    seen = set()
    for drill in DrillResult.objects.order_by("-at", "-id")[:200]:
        if (drill.shard, drill.fault) in seen:
            continue
        seen.add((drill.shard, drill.fault))
        values = [drill.shard, drill.fault]
        if drill.rto_seconds is not None:
            rto.add_metric(values, drill.rto_seconds)
        rpo.add_metric(values, drill.rpo_orders)
        passed.add_metric(values, 1 if drill.passed else 0)
        when.add_metric(values, drill.at.timestamp())
    yield from (rto, rpo, passed, when)


def shards() -> list[str]:
    configured = set(Market.objects.values_list("shard", flat=True))
    return sorted(configured | {getattr(settings, "ENGINE_SHARD", DEFAULT_SHARD)})


def _authorized(request: HttpRequest) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode())
    return can(request.user, Capability.VIEW_CONSOLE)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        status = 403 if request.user.is_authenticated else 401
        response = HttpResponse("Send the metrics bearer token, or log in to the console.\n", status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(connection(settings.REDIS_URL), shards()))
    try:
        body = generate_latest(registry)
    except redis.RedisError as error:
        return HttpResponse(f"Redis unavailable: {error}\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
