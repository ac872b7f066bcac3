from __future__ import annotations

from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    """Email and webhook subscribers to the status page, and the log of every delivery."""

    name = "incidents.subscriptions"
    label = "subscriptions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Notify subscribers of every public change worth a message."""
        from incidents import publishing
        from incidents.subscriptions import checks  # noqa: F401 (registers the system checks)
        from incidents.subscriptions.tasks import on_public_change

        publishing.listen(on_public_change)
