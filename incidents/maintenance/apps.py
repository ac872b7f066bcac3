from __future__ import annotations

from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    """Maintenance windows: scheduled, announced ahead, started and ended on time, driving the engine's modes."""

    name = "incidents.maintenance"
    label = "maintenance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from incidents.maintenance import panels

        panels.register()  # the dashboard's "Upcoming maintenance" panel
