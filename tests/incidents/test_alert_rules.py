"""Alert rules against a shard's real Redis figures, on a controlled clock: fire, join or draft, clear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings

from engine.streams import Keys, pack
from incidents import alerts, services
from incidents.models import Alert, AlertRule, Component, ComponentStatus, Incident
from tests.support.engine import unique_shard

pytestmark = pytest.mark.django_db(transaction=True)
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Figures:
    """A shard's Redis as the supervisor and worker leave it: metrics series, heartbeat, status."""

    def __init__(self) -> None:
        self.shard = unique_shard()
        self.keys = Keys(self.shard)
        self.redis = redis.Redis.from_url(settings.REDIS_URL)

    def snapshot(self, at: datetime, *, p99_us: float = 800.0, commands_per_s: float = 500.0, queue: int = 0) -> None:
        latency = {"p50": p99_us / 4, "p99": p99_us, "p999": p99_us, "max": p99_us, "count": 10}
        metrics = {"time": at.timestamp(), "commands_per_s": commands_per_s, "queue_depth": queue}
        metrics["latency_us"] = latency
        self.redis.xadd(self.keys.metrics, {"m": pack(metrics)}, id=f"{int(at.timestamp() * 1000)}-0")

    def beat(self, at: datetime) -> None:
        self.redis.set(self.keys.heartbeat, pack({"time": at.timestamp(), "pid": 1, "sequence": 0}), px=60_000)

    def status(self, state: str) -> None:
        self.redis.set(self.keys.status, pack({"state": state, "time": 0}), px=60_000)

    def flow(self, start: datetime, seconds: int, **values) -> None:
        for second in range(seconds):
            self.snapshot(start + timedelta(seconds=second), **values)


@pytest.fixture
def figures() -> Figures:
    return Figures()


@pytest.fixture
def trading() -> Component:
    return Component.objects.create(name="BTC-USD trading")


def rule(figures: Figures, metric: str, threshold: float, duration: int = 0, components=(), **fields) -> AlertRule:
    created = AlertRule.objects.create(name=f"{metric} {threshold}", shard=figures.shard, metric=metric,
                                       threshold=threshold, duration_seconds=duration, **fields)  # fmt: skip
    created.components.set(components)
    return created


def evaluate(figures: Figures, at: datetime) -> list[Alert]:
    return alerts.evaluate(figures.redis, now=at)


def test_a_latency_rule_fires_only_after_its_duration_and_opens_a_draft_incident_with_the_evidence(figures, trading):
    latency = rule(figures, "p99_latency_ms", 50, duration=30, components=[trading], severity="sev2")
    figures.flow(START, 31, p99_us=80_000)
    assert evaluate(figures, START + timedelta(seconds=1)) == []
    assert evaluate(figures, START + timedelta(seconds=20)) == []
    [alert] = evaluate(figures, START + timedelta(seconds=31))
    assert alert.rule == latency
    assert alert.value == 80.0
    incident = alert.incident
    assert incident.draft
    assert not incident.is_public()
    assert incident.severity == "sev2"
    assert incident.affected.get().status == ComponentStatus.PARTIAL_OUTAGE  # proposed...
    trading.refresh_from_db()
    assert trading.status == ComponentStatus.OPERATIONAL  # ...not shown to customers before a person publishes
    [entry] = incident.timeline.filter(kind="alert")
    assert entry.detail["threshold"] == 50
    assert entry.detail["value"] == 80.0


def test_a_condition_that_breaks_before_its_duration_starts_counting_again(figures):
    rule(figures, "p99_latency_ms", 50, duration=10)
    figures.flow(START, 6, p99_us=80_000)
    figures.flow(START + timedelta(seconds=6), 2, p99_us=1_000)
    figures.flow(START + timedelta(seconds=8), 12, p99_us=80_000)
    assert evaluate(figures, START + timedelta(seconds=5)) == []
    assert evaluate(figures, START + timedelta(seconds=7)) == []  # cleared: the clock restarts
    assert evaluate(figures, START + timedelta(seconds=9)) == []
    assert evaluate(figures, START + timedelta(seconds=16)) == []
    assert len(evaluate(figures, START + timedelta(seconds=19))) == 1


def test_an_alert_joins_the_open_incident_on_its_components_and_clears_by_itself(figures, trading, commander):
    incident = services.declare_incident(title="Slow", by=commander,
                                         components={trading: ComponentStatus.DEGRADED_PERFORMANCE})  # fmt: skip
    rule(figures, "queue_depth", 1_000, components=[trading])
    figures.snapshot(START, queue=5_000)
    [fired] = evaluate(figures, START)
    assert fired.incident == incident
    assert evaluate(figures, START + timedelta(seconds=1)) == []  # still open: nothing new
    figures.snapshot(START + timedelta(seconds=2), queue=3)
    [cleared] = evaluate(figures, START + timedelta(seconds=2))
    assert cleared.pk == fired.pk
    assert cleared.resolved_at == START + timedelta(seconds=2)
    kinds = list(incident.timeline.filter(kind__startswith="alert").values_list("kind", flat=True))
    assert kinds == ["alert", "alert_resolved"]
    assert Incident.objects.count() == 1


def test_a_silent_worker_fires_the_heartbeat_rule_even_with_no_fresh_metrics(figures):
    rule(figures, "heartbeat_age", 2)
    figures.snapshot(START)
    figures.beat(START)
    assert evaluate(figures, START + timedelta(seconds=1)) == []
    figures.redis.delete(figures.keys.heartbeat)  # expired: the worker stopped beating
    [alert] = evaluate(figures, START + timedelta(seconds=4))
    assert alert.value == 4.0


def test_a_crash_loop_fires_from_the_supervisor_status(figures):
    rule(figures, "crash_loop", 0.5, severity="sev1")
    figures.status("running")
    assert evaluate(figures, START) == []
    figures.status("failed")
    [alert] = evaluate(figures, START + timedelta(seconds=2))
    assert alert.incident.severity == "sev1"


def test_a_throughput_drop_compares_the_last_seconds_with_the_last_ten_minutes(figures):
    rule(figures, "throughput_drop_percent", 80)
    figures.flow(START, 300, commands_per_s=1_000)
    now = START + timedelta(seconds=305)
    figures.flow(START + timedelta(seconds=300), 5, commands_per_s=100)
    [alert] = evaluate(figures, now)
    assert alert.value == pytest.approx(90.0)


def test_rules_on_unknown_figures_never_fire(figures):
    rule(figures, "p99_latency_ms", 50)
    rule(figures, "throughput_drop_percent", 10)
    rule(figures, "heartbeat_age", 2)
    assert evaluate(figures, START) == []  # a shard that never ran says nothing


def test_only_one_alert_is_open_per_rule_and_the_peak_is_kept(figures):
    rule(figures, "queue_depth", 10)
    figures.snapshot(START, queue=50)
    evaluate(figures, START)
    figures.snapshot(START + timedelta(seconds=1), queue=500)
    evaluate(figures, START + timedelta(seconds=1))
    [alert] = Alert.objects.all()
    assert alert.peak == 500


def test_bootstrap_gives_a_new_installation_components_and_the_default_rules(db):
    from django.core.management import call_command

    from engine.models import Market

    call_command("bootstrap", "--no-demo-users")  # role groups only
    assert not Component.objects.exists()
    call_command("bootstrap")
    markets = set(Market.objects.values_list("symbol", flat=True))
    trading = Component.objects.filter(market__isnull=False)
    assert {component.market.symbol for component in trading} == markets
    rules = AlertRule.objects.filter(shard=settings.ENGINE_SHARD)
    assert {rule.metric for rule in rules} == set(AlertRule.Metric.values) - {"commands_per_s"}
    assert set(rules.first().components.all()) == set(trading)
    call_command("bootstrap")  # again: nothing doubled
    assert AlertRule.objects.count() == len(rules)
