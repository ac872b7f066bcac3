"""Maintenance windows: what is down for maintenance, when, what the engine does meanwhile, and what was said.

A window moves scheduled -> in_progress -> verifying -> completed, or scheduled -> cancelled
(`Status` and `lifecycle.MOVES`). Each market it touches has a `MarketAction`: the mode the
engine runs it in during the window, and the mode it had before (recorded when the window
starts, restored when it ends). `Notice` rows are the ledger that makes each advance notice go
out once; `MaintenanceUpdate` rows are what customers read (the status page, the JSON, the
feeds and the notifications all show them).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

USER = settings.AUTH_USER_MODEL
DEFAULT_NOTICE_HOURS = [72, 24, 1]


def default_notice_hours() -> list[int]:
    return list(DEFAULT_NOTICE_HOURS)


class MaintenanceWindow(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        VERIFYING = "verifying", "Verifying"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = (Status.SCHEDULED, Status.IN_PROGRESS, Status.VERIFYING)  # may still change; overlaps are checked
    ACTIVE = (Status.IN_PROGRESS, Status.VERIFYING)

    code = models.CharField(max_length=20, unique=True, help_text="MNT-2026-0007")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown: what customers should expect.")
    description_html = models.TextField(blank=True, help_text="The description rendered and sanitized.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    scheduled_for = models.DateTimeField(db_index=True)
    scheduled_until = models.DateTimeField()
    components = models.ManyToManyField("incidents.Component", related_name="maintenance_windows")
    auto_start = models.BooleanField(default=True, help_text="Start at the scheduled time without a person.")
    auto_complete = models.BooleanField(
        default=True, help_text="End at the scheduled time, and complete once engine health confirms recovery."
    )
    notice_hours = models.JSONField(
        default=default_notice_hours, blank=True, help_text="Advance notices, in hours before the start."
    )
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # When customers were last told the current start (scheduled, rescheduled): advance notices
    # due before then are moot, that message already said it.
    announced_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When it actually started.")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When the work ended (verification began).")
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Why verification holds the window (empty while healthy), and when the alert about it fired.
    verification_problems = models.JSONField(default=list, blank=True)
    verification_alerted_at = models.DateTimeField(null=True, blank=True)
    # iCalendar SEQUENCE: calendar apps replace an event only when this grows.
    sequence = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scheduled_until__gt=models.F("scheduled_for")), name="window_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.title}"

    def is_open(self) -> bool:
        return self.status in self.OPEN

    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def url(self) -> str:
        """Its public page (the window's entry on the status page)."""
        return f"{settings.STATUS_PAGE_URL}/maintenance/{self.code}/"


class MarketAction(models.Model):
    """What the engine does to one market during a window, and the mode it had before (restored afterwards)."""

    class Action(models.TextChoices):
        NONE = "none", "Keep trading"
        POST_ONLY = "post_only", "Post only"
        CANCEL_ONLY = "cancel_only", "Cancel only"
        HALTED = "halted", "Halted"

    window = models.ForeignKey(MaintenanceWindow, on_delete=models.CASCADE, related_name="market_actions")
    market = models.ForeignKey("engine.Market", on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.NONE)
    previous_mode = models.CharField(max_length=16, blank=True, help_text="The mode before the window (restored).")
    applied_at = models.DateTimeField(null=True, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, help_text="Why the engine refused or did not answer.")

    class Meta:
        ordering = ["market__symbol"]
        constraints = [models.UniqueConstraint(fields=["window", "market"], name="one_action_per_market_per_window")]

    def __str__(self) -> str:
        return f"{self.market}: {self.action}"


class MaintenanceUpdate(models.Model):
    """What customers are told about a window: scheduled, started, extended, completed... (public)."""

    class Kind(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        RESCHEDULED = "rescheduled", "Rescheduled"
        STARTED = "started", "Started"
        EXTENDED = "extended", "Extended"
        VERIFYING = "verifying", "Verifying"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    window = models.ForeignKey(MaintenanceWindow, on_delete=models.CASCADE, related_name="updates")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=MaintenanceWindow.Status.choices)
    at = models.DateTimeField(default=timezone.now)
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField()
    author = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.window.code} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class WindowEvent(models.Model):
    """The window's internal log: transitions, engine answers, verification checks (never public)."""

    window = models.ForeignKey(MaintenanceWindow, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32)
    summary = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.window.code} {self.kind}: {self.summary}"


class Notice(models.Model):
    """One advance notice of a window, claimed by inserting this row: each goes out once, whatever runs beat."""

    window = models.ForeignKey(MaintenanceWindow, on_delete=models.CASCADE, related_name="notices")
    hours_before = models.PositiveIntegerField()
    # The start it announced: a rescheduled window announces its new start again.
    scheduled_for = models.DateTimeField()
    at = models.DateTimeField(default=timezone.now)
    skipped = models.BooleanField(default=False, help_text="Due while a later notice was too; only the latest went.")

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["window", "hours_before", "scheduled_for"], name="one_notice_per_start"),
        ]

    def __str__(self) -> str:
        return f"{self.window.code} {self.hours_before} h notice"
