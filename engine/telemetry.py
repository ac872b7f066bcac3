"""The supervisor's Django side: engine events into the database, metrics out to everyone.

- `record(...)`: an `EngineEvent` row, published to the dashboards (`engine.health`).
- `poll_metrics()`: the worker's one-second snapshots (its metrics stream, which is also the
  six-hour series in Redis) forwarded to the dashboards, and rolled up into `HealthMinute`
  rows, kept 90 days for post-mortem charts.
- `status(...)`: the supervisor's view (state, heartbeat age...), ten times a second.

The messages and how they travel are `engine.health`'s.

Neither may stop the supervisor: a database or channel layer that fails costs a log line,
never the engine.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, close_old_connections

from engine.drill import DrillPlan, run_drill
from engine.health import HealthPublisher
from engine.models import EngineEvent, HealthMinute
from engine.simulator import markets_of
from engine.streams import Keys, unpack

logger = logging.getLogger("engine.supervisor")

KEEP_MINUTES = timedelta(days=90)
# Redis restarts need a command or the embedded server's directory: `manage.py engine_drill redis`.
DRILLS_FROM_CONSOLE = ("crash", "hang")


@dataclass
class Minute:
    """The snapshots of one minute, being rolled up."""

    start: datetime
    samples: int = 0
    commands: int = 0
    trades: int = 0
    rejected: int = 0
    commands_per_s_max: float = 0.0
    p50: list[float] = field(default_factory=list)
    p99_max: float | None = None
    latency_max: float | None = None
    queue_depth_max: int = 0
    rss_bytes_max: int = 0
    cpu_percent_max: float = 0.0
    restarts: int = 0

    def add(self, metrics: dict) -> None:
        self.samples += 1
        self.commands += metrics.get("commands", 0)
        self.trades += metrics.get("trades", 0)
        self.rejected += metrics.get("rejected", 0)
        self.commands_per_s_max = max(self.commands_per_s_max, metrics.get("commands_per_s", 0.0))
        latency = metrics.get("latency_us") or {}
        if latency.get("p50") is not None:
            self.p50.append(latency["p50"])
        self.p99_max = _max(self.p99_max, latency.get("p99"))
        self.latency_max = _max(self.latency_max, latency.get("max"))
        self.queue_depth_max = max(self.queue_depth_max, metrics.get("queue_depth", 0))
        self.rss_bytes_max = max(self.rss_bytes_max, metrics.get("rss_bytes", 0))
        self.cpu_percent_max = max(self.cpu_percent_max, metrics.get("cpu_percent", 0.0))


def _max(current: float | None, value: float | None) -> float | None:
    if value is None:
        return current
    return value if current is None else max(current, value)


class Recorder:
    """Engine events and metrics of one shard, for a supervisor."""

    def __init__(self, shard: str, redis_client: redis.Redis) -> None:
        self.shard = shard
        self.keys = Keys(shard)
        self.redis = redis_client
        self.health = HealthPublisher(shard, redis_client)
        self.drill: threading.Thread | None = None
        self.metrics_position: str | None = None
        self.minute: Minute | None = None
        self.restarts_pending = 0

    # -- events -----------------------------------------------------------------------------

    def record(
        self,
        kind: str,
        message: str,
        *,
        severity: str = EngineEvent.Severity.INFO,
        detail: dict | None = None,
        actor_id: int | None = None,
        reason: str = "",
    ) -> EngineEvent | None:
        log = logger.critical if severity == EngineEvent.Severity.CRITICAL else logger.info
        log("engine %s %s: %s", self.shard, kind, message)
        if kind == EngineEvent.Kind.RESTARTED:
            self.restarts_pending += 1
        close_old_connections()
        try:
            actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
            event = EngineEvent.objects.create(
                shard=self.shard, kind=kind, severity=severity, message=message[:300],
                detail=detail or {}, actor=actor, reason=reason,
            )  # fmt: skip
        except DatabaseError:
            logger.exception("engine %s: could not record the %s event", self.shard, kind)
            return None
        self.health.publish("event", event.as_message())
        return event

    # -- drills -----------------------------------------------------------------------------

    def start_drill(self, fault: str, *, actor_id: int | None, reason: str) -> str | None:
        """Start a recovery drill beside the supervisor's loop; return why not, or None."""
        if fault not in DRILLS_FROM_CONSOLE:
            return f"fault must be one of {', '.join(DRILLS_FROM_CONSOLE)}"
        if self.drill is not None and self.drill.is_alive():
            return "a drill is already running"
        markets = markets_of(self.shard)
        if not markets:
            return f"no markets in shard {self.shard!r} to put load on"
        plan = DrillPlan(fault=fault, shard=self.shard, redis_url=settings.REDIS_URL, markets=markets)
        self.record(
            "drill_started", f"{fault} drill started under {plan.rate:,.0f} simulated orders/s",
            severity="warning", detail={"fault": fault}, actor_id=actor_id, reason=reason,
        )  # fmt: skip
        self.drill = threading.Thread(target=self._run_drill, args=(plan, actor_id), name="drill", daemon=True)
        self.drill.start()
        return None

    def _run_drill(self, plan: DrillPlan, actor_id: int | None) -> None:
        try:
            result = run_drill(plan, say=lambda line: logger.info("engine %s %s", self.shard, line))
        except Exception as error:  # a drill that cannot finish is reported, never raised into the supervisor
            self.record(
                "drill_finished", f"{plan.fault} drill failed to run: {error}", severity="critical",
                detail={"fault": plan.fault, "passed": False, "error": str(error)}, actor_id=actor_id,
            )  # fmt: skip
            return
        finally:
            close_old_connections()
        rto = "no recovery" if result.rto_seconds is None else f"RTO {result.rto_seconds:.3f} s"
        self.record(
            "drill_finished", f"{plan.fault} drill {'passed' if result.passed else 'FAILED'}: {rto}, "
            f"RPO {result.rpo_orders} of {result.acknowledged:,} acknowledged orders",
            severity="info" if result.passed else "critical",
            detail={"fault": plan.fault, "drill_id": result.pk, "rto_seconds": result.rto_seconds,
                    "rpo_orders": result.rpo_orders, "acknowledged": result.acknowledged, "passed": result.passed},
            actor_id=actor_id,
        )  # fmt: skip

    def status(self, status: dict) -> None:
        """Publish the supervisor's status (it calls ten times a second)."""
        self.health.publish("status", status)

    # -- metrics ----------------------------------------------------------------------------

    def poll_metrics(self) -> None:
        """Forward the snapshots the worker appended since the last call, and roll them up."""
        try:
            if self.metrics_position is None:
                last = self.redis.xrevrange(self.keys.metrics, count=1)
                self.metrics_position = last[0][0].decode() if last else "0-0"
            found = self.redis.xread({self.keys.metrics: self.metrics_position}, count=100)
        except redis.RedisError:
            return
        for raw_id, fields in found[0][1] if found else []:
            self.metrics_position = raw_id.decode()
            try:
                metrics = unpack(fields[b"m"])
            except Exception:
                logger.warning("engine %s: unreadable metrics entry %s", self.shard, self.metrics_position)
                continue
            self.health.publish("metrics", metrics)
            self._roll_up(metrics)

    def _roll_up(self, metrics: dict) -> None:
        at = datetime.fromtimestamp(math.floor(metrics["time"] / 60) * 60, tz=UTC)
        if self.minute is not None and self.minute.start != at:
            self.flush()
        if self.minute is None:
            self.minute = Minute(at)
        self.minute.add(metrics)

    def flush(self) -> None:
        """Write the minute being rolled up (again, if it already has a row: snapshots came late)."""
        minute, self.minute = self.minute, None
        if minute is None:
            return
        minute.restarts, self.restarts_pending = self.restarts_pending, 0
        p50 = sorted(minute.p50)[len(minute.p50) // 2] if minute.p50 else None
        close_old_connections()
        try:
            HealthMinute.objects.update_or_create(
                shard=self.shard,
                minute=minute.start,
                defaults={
                    "samples": minute.samples, "commands": minute.commands, "trades": minute.trades,
                    "rejected": minute.rejected, "commands_per_s_max": minute.commands_per_s_max,
                    "latency_p50_us": p50, "latency_p99_us": minute.p99_max, "latency_max_us": minute.latency_max,
                    "queue_depth_max": minute.queue_depth_max, "rss_bytes_max": minute.rss_bytes_max,
                    "cpu_percent_max": minute.cpu_percent_max, "restarts": minute.restarts,
                },
            )  # fmt: skip
        except DatabaseError:
            logger.exception("engine %s: could not store the health of %s", self.shard, minute.start)


def prune_health(now: datetime | None = None) -> int:
    """Delete minute rows older than 90 days; return how many."""
    cutoff = (now or datetime.now(tz=UTC)) - KEEP_MINUTES
    deleted, _ = HealthMinute.objects.filter(minute__lt=cutoff).delete()
    return deleted
