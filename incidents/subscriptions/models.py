"""Email and webhook subscribers, the messages they are sent, and one delivery row per (subscriber, message)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

USER = settings.AUTH_USER_MODEL


def new_token() -> str:
    """Return a random, URL-safe token (unsubscribe links, webhook secrets)."""
    return secrets.token_urlsafe(24)


class EmailSubscriber(models.Model):
    """An address that asked for status emails; it gets them once it confirmed and until it unsubscribes."""

    email = models.EmailField(unique=True)
    components = models.ManyToManyField(
        "incidents.Component", blank=True, related_name="email_subscribers", help_text="Empty: everything."
    )
    # The one-click unsubscribe link carries this token: it never expires and needs no login.
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None

    def state(self) -> str:
        """Say where the subscriber stands: pending, active or unsubscribed."""
        if self.unsubscribed_at is not None:
            return "unsubscribed"
        return "active" if self.confirmed_at is not None else "pending"


class WebhookSubscriber(models.Model):
    """A URL that receives signed JSON for each message; disabled after repeated failure."""

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, default=new_token, help_text="Signs every request (HMAC-SHA256).")
    components = models.ManyToManyField(
        "incidents.Component", blank=True, related_name="webhook_subscribers", help_text="Empty: everything."
    )
    contact_email = models.EmailField(help_text="Told when the webhook is disabled.")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    enabled = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["url", "id"]

    def __str__(self) -> str:
        return self.url


class Message(models.Model):
    """One notification (an incident update, a post-mortem, a maintenance notice...) with its public snapshot."""

    class Kind(models.TextChoices):
        INCIDENT_CREATED = "incident_created", "Incident created"
        INCIDENT_UPDATED = "incident_updated", "Incident updated"
        INCIDENT_RESOLVED = "incident_resolved", "Incident resolved"
        POSTMORTEM_PUBLISHED = "postmortem_published", "Post-mortem published"
        # The publishing kinds of maintenance windows; `maintenance_verifying` is not told (completion follows).
        MAINTENANCE_SCHEDULED = "maintenance_scheduled", "Maintenance scheduled"
        MAINTENANCE_RESCHEDULED = "maintenance_rescheduled", "Maintenance rescheduled"
        MAINTENANCE_REMINDER = "maintenance_reminder", "Maintenance reminder"
        MAINTENANCE_STARTED = "maintenance_started", "Maintenance started"
        MAINTENANCE_EXTENDED = "maintenance_extended", "Maintenance extended"
        MAINTENANCE_COMPLETED = "maintenance_completed", "Maintenance completed"
        MAINTENANCE_CANCELLED = "maintenance_cancelled", "Maintenance cancelled"

    # kind:incident:update:postmortem, or kind:window:update:notice — the fan-out runs at most once per change.
    key = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    incident_id = models.PositiveBigIntegerField(null=True, blank=True)
    # An IncidentUpdate, or a MaintenanceUpdate for a maintenance kind.
    update_id = models.PositiveBigIntegerField(null=True, blank=True)
    postmortem_id = models.PositiveBigIntegerField(null=True, blank=True)
    maintenance_id = models.PositiveBigIntegerField(null=True, blank=True)
    notice_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="The advance notice of a reminder.")
    # Public data only, taken once so every subscriber (and every retry) gets the same text.
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.payload.get('incident', {}).get('name', '')}"


class Delivery(models.Model):
    """One message to one subscriber: the delivery log, and the claim that makes sending happen once."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # A removed subscriber leaves its log behind: `recipient` keeps who it was.
    email_subscriber = models.ForeignKey(
        EmailSubscriber, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    webhook_subscriber = models.ForeignKey(
        WebhookSubscriber, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    recipient = models.CharField(max_length=500)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When a failed attempt is retried.")
    # The worker holding the row while it sends: claimed with one conditional UPDATE.
    claim = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["message", "email_subscriber"], name="one_email_per_message"),
            models.UniqueConstraint(fields=["message", "webhook_subscriber"], name="one_webhook_call_per_message"),
            models.CheckConstraint(
                condition=Q(channel="email", webhook_subscriber=None) | Q(channel="webhook", email_subscriber=None),
                name="delivery_subscriber_matches_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.recipient}: {self.status}"

    def can_resend(self) -> bool:
        return self.status == self.Status.FAILED
