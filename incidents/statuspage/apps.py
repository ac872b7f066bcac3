from __future__ import annotations

from django.apps import AppConfig


class StatusPageConfig(AppConfig):
    """The public status page, its Statuspage-compatible JSON, feeds and static copy (no models)."""

    name = "incidents.statuspage"
    label = "statuspage"

    def ready(self) -> None:
        from incidents import publishing
        from incidents.statuspage import tasks

        publishing.listen(tasks.export_on_change)  # every public change re-exports the static copy
