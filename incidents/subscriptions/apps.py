from __future__ import annotations

from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    """Email and webhook subscribers to the status page, and the log of every delivery."""

    name = "incidents.subscriptions"
    label = "subscriptions"
    default_auto_field = "django.db.models.BigAutoField"
