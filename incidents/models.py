"""Components customers see, and incidents: lifecycle, roles, affected components, updates, timeline."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

USER = settings.AUTH_USER_MODEL


def default_shard() -> str:
    """This installation's engine shard (read from settings: the public side imports nothing from `engine`)."""
    return settings.ENGINE_SHARD


class ComponentStatus(models.TextChoices):
    """Statuspage's component statuses, best first (the order `worst` relies on)."""

    OPERATIONAL = "operational", "Operational"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"

    @classmethod
    def worst(cls, statuses: list[str]) -> str:
        order = list(cls.values)
        return max(statuses, key=order.index, default=cls.OPERATIONAL)


class ComponentGroup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    """Something customers rely on (trading on a market, deposits, the API), with its current status."""

    group = models.ForeignKey(
        ComponentGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="components"
    )
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=32, choices=ComponentStatus.choices, default=ComponentStatus.OPERATIONAL)
    market = models.ForeignKey(
        "engine.Market", null=True, blank=True, on_delete=models.SET_NULL, related_name="components",
        help_text="The engine market whose evidence (alerts, events) maps onto this component.",
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now, help_text="Uptime history starts here.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group__position", "position", "name"]

    def __str__(self) -> str:
        return self.name


class ComponentStatusChange(models.Model):
    """Every change of a component's status: uptime history and post-mortem charts are drawn from these."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="status_changes")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    previous = models.CharField(max_length=32, choices=ComponentStatus.choices)
    status = models.CharField(max_length=32, choices=ComponentStatus.choices)
    incident = models.ForeignKey("Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.component} {self.previous} -> {self.status}"


class Incident(models.Model):
    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"
        POSTMORTEM = "postmortem", "Post-mortem"

    class Impact(models.TextChoices):
        NONE = "none", "None"
        MINOR = "minor", "Minor"
        MAJOR = "major", "Major"
        CRITICAL = "critical", "Critical"

    class Severity(models.TextChoices):
        SEV1 = "sev1", "SEV1"
        SEV2 = "sev2", "SEV2"
        SEV3 = "sev3", "SEV3"
        SEV4 = "sev4", "SEV4"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        INTERNAL = "internal", "Internal only"

    code = models.CharField(max_length=20, unique=True, help_text="INC-2026-0042")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVESTIGATING)
    impact_override = models.CharField(
        max_length=16, choices=Impact.choices, blank=True, help_text="Empty: derived from the affected components."
    )
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.SEV3)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC)
    draft = models.BooleanField(default=False, help_text="Opened by an alert rule; published by a person.")
    commander = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    communications_lead = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    components = models.ManyToManyField(Component, through="AffectedComponent", related_name="incidents")
    started_at = models.DateTimeField(default=timezone.now, help_text="When the impact began (may be set back).")
    detected_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    def is_open(self) -> bool:
        return self.status not in (self.Status.RESOLVED, self.Status.POSTMORTEM)

    def is_public(self) -> bool:
        return self.visibility == self.Visibility.PUBLIC and not self.draft

    @property
    def impact(self) -> str:
        """The override, else what the worst affected component says (Statuspage's mapping)."""
        if self.impact_override:
            return self.impact_override
        worst = ComponentStatus.worst([affected.status for affected in self.affected.all()])
        return IMPACT_OF_STATUS[worst]

    def time_to_acknowledge(self) -> timedelta | None:
        return None if self.acknowledged_at is None else self.acknowledged_at - self.detected_at

    def time_to_mitigate(self) -> timedelta | None:
        return None if self.mitigated_at is None else self.mitigated_at - self.started_at

    def time_to_resolve(self) -> timedelta | None:
        return None if self.resolved_at is None else self.resolved_at - self.started_at


IMPACT_OF_STATUS = {
    ComponentStatus.OPERATIONAL: Incident.Impact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Incident.Impact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Incident.Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Incident.Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Incident.Impact.CRITICAL,
}


class AffectedComponent(models.Model):
    """A component an incident affects, with the status the incident gives it."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="affected")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=32, choices=ComponentStatus.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "component"], name="one_row_per_affected_component")]

    def __str__(self) -> str:
        return f"{self.component}: {self.status}"


class IncidentUpdate(models.Model):
    """A public update (status page, subscribers) or an internal note (console only)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    at = models.DateTimeField(default=timezone.now)
    internal = models.BooleanField(default=False)
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(help_text="The body rendered and sanitized: safe to show as is.")
    previous_status = models.CharField(max_length=16, choices=Incident.Status.choices, blank=True)
    status = models.CharField(max_length=16, choices=Incident.Status.choices, blank=True)
    component_changes = models.JSONField(default=list, blank=True, help_text="[{component, previous, status}]")
    author = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{'note' if self.internal else 'update'} {self.at:%Y-%m-%d %H:%M}"


class UpdateTemplate(models.Model):
    """A ready-made public update for a status, with placeholders the composer fills in."""

    PLACEHOLDERS = {
        "title": "the incident's title",
        "code": "its reference code",
        "components": "the affected components, by name",
        "status": "the status the update moves to",
        "started_at": "when the impact began (UTC)",
        "commander": "the incident commander",
    }

    name = models.CharField(max_length=100, unique=True)
    status = models.CharField(
        max_length=16, choices=Incident.Status.choices, blank=True, help_text="Offered for this status; empty: any."
    )
    body = models.TextField(
        help_text="Markdown; placeholders: {title}, {code}, {components}, {status}, {started_at}, {commander}."
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class TimelineEntry(models.Model):
    """One line of an incident's timeline; written only by `incidents.timeline.log`, never edited."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32, db_index=True)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150)
    summary = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.summary}"


class AlertRule(models.Model):
    """A condition on the engine's live figures that, held for `duration_seconds`, fires an alert."""

    class Metric(models.TextChoices):
        HEARTBEAT_AGE = "heartbeat_age", "Heartbeat age (s)"
        P99_LATENCY_MS = "p99_latency_ms", "p99 ingest-to-ack latency (ms)"
        THROUGHPUT_DROP_PERCENT = "throughput_drop_percent", "Throughput drop against the last 10 minutes (%)"
        QUEUE_DEPTH = "queue_depth", "Queue depth (commands)"
        COMMANDS_PER_S = "commands_per_s", "Commands per second"
        CRASH_LOOP = "crash_loop", "Engine failed: crash loop (1 when failed)"

    class Comparison(models.TextChoices):
        ABOVE = "gt", "above"
        BELOW = "lt", "below"

    name = models.CharField(max_length=100, unique=True)
    shard = models.CharField(max_length=32, default=default_shard)
    metric = models.CharField(max_length=32, choices=Metric.choices)
    comparison = models.CharField(max_length=2, choices=Comparison.choices, default=Comparison.ABOVE)
    threshold = models.FloatField()
    duration_seconds = models.PositiveIntegerField(default=0, help_text="How long the condition must hold.")
    severity = models.CharField(max_length=8, choices=Incident.Severity.choices, default=Incident.Severity.SEV2)
    components = models.ManyToManyField(Component, blank=True, related_name="alert_rules")
    enabled = models.BooleanField(default=True)
    # Evaluation state, kept with the rule so any worker (or a restarted one) carries on.
    pending_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.metric} {self.get_comparison_display()} {self.threshold:g}"

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False
        return value > self.threshold if self.comparison == self.Comparison.ABOVE else value < self.threshold


class Alert(models.Model):
    """A rule that fired: open while its condition holds, resolved by itself when it clears."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    fired_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    value = models.FloatField(help_text="The figure when it fired.")
    peak = models.FloatField(help_text="The worst figure while it was open.")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule"], condition=models.Q(resolved_at=None), name="one_open_alert_per_rule"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule.name} at {self.fired_at:%Y-%m-%d %H:%M:%S}"

    def is_open(self) -> bool:
        return self.resolved_at is None
