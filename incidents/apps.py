from __future__ import annotations

from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Incidents, post-mortems, maintenance windows and customer communications."""

    name = "incidents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from incidents import panels

        panels.register()  # the dashboard's "Open incidents" panel
