"""Alert rules on the engine's live figures: evaluated every two seconds, firing and clearing by themselves.

`evaluate()` reads each shard's figures from Redis (`readings`: the supervisor's status, the
worker's heartbeat and its one-second metrics series), so it keeps working when the engine or
its supervisor is down — which is when it matters. A rule whose condition holds for its
duration fires an `Alert`: it goes on the dashboard at once and either joins the open incident
on the same components (on its timeline) or opens a *draft* incident with the evidence, for a
person to publish. When the condition clears the alert resolves, on the timeline too.
"""

from __future__ import annotations

import functools
import logging
import time
from datetime import datetime

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.client import connection as shared_connection
from engine.health import HealthPublisher, current_status
from engine.streams import Keys, unpack
from incidents import services, timeline
from incidents.models import Alert, AlertRule, Component, ComponentStatus, Incident

logger = logging.getLogger("incidents.alerts")

Metric = AlertRule.Metric
FRESH_SECONDS = 5.0  # a metrics snapshot older than this says nothing about now
BASELINE_SECONDS = 600  # "throughput drop against the last 10 minutes"
MIN_BASELINE_RATE = 1.0  # commands/s below which a drop means nothing
PROPOSED_STATUS = {  # what a draft incident proposes for the rule's components, by severity
    Incident.Severity.SEV1: ComponentStatus.MAJOR_OUTAGE,
    Incident.Severity.SEV2: ComponentStatus.PARTIAL_OUTAGE,
    Incident.Severity.SEV3: ComponentStatus.DEGRADED_PERFORMANCE,
    Incident.Severity.SEV4: ComponentStatus.DEGRADED_PERFORMANCE,
}


def readings(shard: str, connection: redis.Redis, now: float | None = None) -> dict[str, float | None]:
    """The figures rules compare, for one shard (None: unknown, which never fires a rule)."""
    now = time.time() if now is None else now
    keys = Keys(shard)
    status = current_status(connection, shard)
    until = f"{int(now * 1000)}-18446744073709551615"  # nothing after `now` (a replayed clock in tests)
    newest_first = connection.xrevrange(keys.metrics, max=until, count=BASELINE_SECONDS)
    series = [unpack(fields[b"m"]) for _, fields in newest_first]
    latest = series[0] if series and now - series[0]["time"] <= FRESH_SECONDS else None
    figures: dict[str, float | None] = dict.fromkeys(Metric.values)
    figures[Metric.CRASH_LOOP] = None if status is None else float(status.get("state") == "failed")
    figures[Metric.HEARTBEAT_AGE] = _heartbeat_age(connection, keys, series, now)
    if latest is not None:
        figures[Metric.P99_LATENCY_MS] = _ms((latest.get("latency_us") or {}).get("p99"))
        figures[Metric.QUEUE_DEPTH] = float(latest.get("queue_depth", 0))
        figures[Metric.COMMANDS_PER_S] = float(latest.get("commands_per_s", 0.0))
    figures[Metric.THROUGHPUT_DROP_PERCENT] = _drop(series, now)
    return figures


def _heartbeat_age(connection: redis.Redis, keys: Keys, series: list[dict], now: float) -> float | None:
    raw = connection.get(keys.heartbeat)
    if raw is not None:
        return max(now - unpack(raw)["time"], 0.0)
    # The key expires 2 s after the worker's last beat: silence since its last snapshot, if it ever ran.
    return max(now - series[0]["time"], 0.0) if series else None


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else microseconds / 1000


def _drop(series: list[dict], now: float) -> float | None:
    """Percent below the last ten minutes' mean rate that the last five seconds ran (None if too little flow)."""
    recent = [m["commands_per_s"] for m in series if now - m["time"] <= FRESH_SECONDS]
    before = [m["commands_per_s"] for m in series if FRESH_SECONDS < now - m["time"] <= BASELINE_SECONDS]
    if not recent or len(before) < 30:
        return None
    baseline = sum(before) / len(before)
    if baseline < MIN_BASELINE_RATE:
        return None
    return max(0.0, (1 - (sum(recent) / len(recent)) / baseline) * 100)


def evaluate(connection: redis.Redis | None = None, now: datetime | None = None) -> list[Alert]:
    """Evaluate every enabled rule once; return the alerts that fired or resolved."""
    connection = connection or shared_connection(settings.REDIS_URL)
    now = now or timezone.now()
    rules = list(AlertRule.objects.filter(enabled=True).prefetch_related("components"))
    figures = {shard: readings(shard, connection, now.timestamp()) for shard in {rule.shard for rule in rules}}
    changed = []
    for rule in rules:
        alert = _step(rule, figures[rule.shard][rule.metric], now)
        if alert is not None:
            changed.append(alert)
    return changed


@transaction.atomic
def _step(rule: AlertRule, value: float | None, now: datetime) -> Alert | None:
    open_alert = rule.alerts.filter(resolved_at=None).first()
    if not rule.holds(value):
        if rule.pending_since is not None:
            AlertRule.objects.filter(pk=rule.pk).update(pending_since=None)
        return _resolve(open_alert, now) if open_alert else None
    if open_alert is not None:
        if _worse(rule, value, open_alert.peak):
            Alert.objects.filter(pk=open_alert.pk).update(peak=value)
        return None
    if rule.pending_since is None:
        rule.pending_since = now
        AlertRule.objects.filter(pk=rule.pk).update(pending_since=now)
    if (now - rule.pending_since).total_seconds() < rule.duration_seconds:
        return None
    return _fire(rule, value, now)


def _worse(rule: AlertRule, value: float, peak: float) -> bool:
    return value > peak if rule.comparison == AlertRule.Comparison.ABOVE else value < peak


def _fire(rule: AlertRule, value: float, now: datetime) -> Alert:
    components = list(rule.components.all())
    incident = _open_incident_on(components)
    evidence = {"rule": rule.name, "metric": rule.metric, "comparison": rule.comparison, "threshold": rule.threshold,
                "value": value, "duration_seconds": rule.duration_seconds, "shard": rule.shard}  # fmt: skip
    if incident is None:
        incident = services.declare_incident(
            title=f"Alert: {rule.name}", by=None, severity=rule.severity, draft=True,
            components=dict.fromkeys(components, PROPOSED_STATUS[rule.severity]),
        )  # fmt: skip
    alert = Alert.objects.create(rule=rule, fired_at=now, value=value, peak=value, incident=incident)
    described = f"{rule.get_metric_display()} {value:g} {rule.get_comparison_display()} {rule.threshold:g}"
    timeline.log(incident=incident, kind="alert", summary=f"alert fired: {rule.name} ({described})",
                 detail={**evidence, "alert": alert.pk}, at=now)  # fmt: skip
    logger.warning("alert fired: %s (%s)", rule.name, described)
    _announce(alert, "alert_fired", f"{rule.name}: {described}")
    return alert


def _resolve(alert: Alert, now: datetime) -> Alert:
    alert.resolved_at = now
    alert.save(update_fields=["resolved_at"])
    if alert.incident is not None:
        timeline.log(incident=alert.incident, kind="alert_resolved", summary=f"alert cleared: {alert.rule.name}",
                     detail={"alert": alert.pk, "peak": alert.peak}, at=now)  # fmt: skip
    logger.info("alert cleared: %s", alert.rule.name)
    _announce(alert, "alert_resolved", f"{alert.rule.name}: cleared (worst {alert.peak:g})")
    return alert


def _open_incident_on(components: list[Component]) -> Incident | None:
    """The newest open incident affecting any of these components (None without components)."""
    if not components:
        return None
    found = Incident.objects.filter(affected__component__in=components).exclude(
        status__in=[Incident.Status.RESOLVED, Incident.Status.POSTMORTEM]
    )
    return found.order_by("-started_at").first()


def _announce(alert: Alert, kind: str, message: str) -> None:
    """Put the alert on every dashboard, as an engine-health event."""
    rule = alert.rule
    severity = "critical" if rule.severity in (Incident.Severity.SEV1, Incident.Severity.SEV2) else "warning"
    if kind == "alert_resolved":
        severity = "info"
    event = {
        "id": alert.pk, "at": timezone.now().isoformat(), "shard": rule.shard, "kind": kind, "severity": severity,
        "message": message[:300], "actor": None, "reason": "",
        "detail": {"alert": alert.pk, "rule": rule.name, "incident": alert.incident.code if alert.incident else None},
    }  # fmt: skip
    transaction.on_commit(functools.partial(_publisher(rule.shard).publish, "event", event))


@functools.cache
def _publisher(shard: str) -> HealthPublisher:
    return HealthPublisher(shard, shared_connection(settings.REDIS_URL))
