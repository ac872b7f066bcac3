"""What the console keeps about the engine: markets, its events, minute health, drills, trading."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from engine.core import MarketConfig
from engine.core.types import MODES
from engine.streams import DEFAULT_SHARD

_DECIMAL_STEP = RegexValidator(r"^\d+(\.\d+)?$", "A positive decimal like 0.01.")


class Market(models.Model):
    """A market the engine trades: its configuration, in the units customers use.

    The engine reads this when a shard's journal is new; afterwards the journal's snapshots hold
    the configuration it runs with (a change here reaches the engine only with a new journal).
    """

    symbol = models.CharField(max_length=32, unique=True, validators=[RegexValidator(r"^[A-Z0-9]+(-[A-Z0-9]+)*$")])
    shard = models.CharField(max_length=32, default=DEFAULT_SHARD)
    tick_size = models.CharField(max_length=32, default="0.01", validators=[_DECIMAL_STEP])
    lot_size = models.CharField(max_length=32, default="0.001", validators=[_DECIMAL_STEP])
    min_qty = models.PositiveBigIntegerField(default=1, validators=[MinValueValidator(1)], help_text="In lots.")
    max_qty = models.PositiveBigIntegerField(default=1_000_000_000, validators=[MinValueValidator(1)])
    band_bps = models.PositiveIntegerField(
        null=True, blank=True, default=1_000, help_text="Reject limit prices further than this from the reference."
    )
    reference_price = models.PositiveBigIntegerField(null=True, blank=True, help_text="In ticks.")
    initial_mode = models.CharField(max_length=16, choices=[(mode, mode) for mode in MODES], default="open")

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol

    def config(self) -> MarketConfig:
        return MarketConfig(
            self.symbol,
            tick_size=self.tick_size,
            lot_size=self.lot_size,
            min_qty=self.min_qty,
            max_qty=self.max_qty,
            band_bps=self.band_bps,
            reference_price=self.reference_price,
            mode=self.initial_mode,
        )

    def as_worker_config(self) -> dict:
        return self.config()._asdict()

    def price(self, ticks: int | None) -> str | None:
        """Ticks as the decimal string customers see."""
        return None if ticks is None else str(Decimal(ticks) * Decimal(self.tick_size))

    def quantity(self, lots: int | None) -> str | None:
        return None if lots is None else str(Decimal(lots) * Decimal(self.lot_size))


class EngineEvent(models.Model):
    """Something that happened to the engine process, as its supervisor saw it."""

    class Kind(models.TextChoices):
        LEASE_ACQUIRED = "lease_acquired", "Lease acquired"
        STARTED = "started", "Started"
        RECOVERED = "recovered", "Recovered"
        STOPPED = "stopped", "Stopped"
        CRASHED = "crashed", "Crashed"
        HUNG = "hung", "Hung"
        RESTARTED = "restarted", "Restarted"
        MODE_CHANGED = "mode_changed", "Mode changed"
        CRASH_LOOP = "crash_loop", "Crash loop"
        LEASE_LOST = "lease_lost", "Lease lost"
        RESTART_REQUESTED = "restart_requested", "Restart requested"
        DRILL_STARTED = "drill_started", "Drill started"
        DRILL_FINISHED = "drill_finished", "Drill finished"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    shard = models.CharField(max_length=32, default=DEFAULT_SHARD)
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    message = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.shard} {self.kind}: {self.message}"

    def as_message(self) -> dict:
        return {
            "id": self.pk,
            "at": self.at.isoformat(),
            "shard": self.shard,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "detail": self.detail,
            "actor": self.actor.get_username() if self.actor_id else None,
            "reason": self.reason,
        }


class HealthMinute(models.Model):
    """One minute of an engine shard's health: what post-mortem charts are drawn from (kept 90 days)."""

    shard = models.CharField(max_length=32, default=DEFAULT_SHARD)
    minute = models.DateTimeField()
    samples = models.PositiveIntegerField(help_text="Metrics snapshots rolled into this minute.")
    commands = models.PositiveBigIntegerField()
    trades = models.PositiveBigIntegerField()
    rejected = models.PositiveBigIntegerField()
    commands_per_s_max = models.FloatField()
    latency_p50_us = models.FloatField(null=True)
    latency_p99_us = models.FloatField(null=True, help_text="The worst second's p99 in the minute.")
    latency_max_us = models.FloatField(null=True)
    queue_depth_max = models.PositiveBigIntegerField()
    rss_bytes_max = models.PositiveBigIntegerField()
    cpu_percent_max = models.FloatField()
    restarts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["shard", "minute"]
        constraints = [models.UniqueConstraint(fields=["shard", "minute"], name="one_health_row_per_minute")]

    def __str__(self) -> str:
        return f"{self.shard} {self.minute:%Y-%m-%d %H:%M}"


class DrillResult(models.Model):
    """A fault injected under load and what it cost: RTO (seconds to the first acknowledgement after) and RPO."""

    class Fault(models.TextChoices):
        CRASH = "crash", "Worker killed (SIGKILL)"
        HANG = "hang", "Worker hung (SIGSTOP)"
        REDIS = "redis", "Redis restarted"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    shard = models.CharField(max_length=32, default=DEFAULT_SHARD)
    fault = models.CharField(max_length=16, choices=Fault.choices)
    rto_seconds = models.FloatField(null=True, help_text="None when the engine never answered again.")
    rpo_orders = models.IntegerField(help_text="Acknowledged orders missing after recovery; must be 0.")
    acknowledged = models.PositiveBigIntegerField(help_text="Orders acknowledged during the drill.")
    passed = models.BooleanField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.fault} RTO {self.rto_seconds} s RPO {self.rpo_orders}"


class TradingAccess(models.Model):
    """Holds the trading permission: API clients granted it may send orders for their own account."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("trade", "Send and cancel orders through the order gateway")]

    def __str__(self) -> str:
        return "trading access"
