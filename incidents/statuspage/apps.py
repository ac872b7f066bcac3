from __future__ import annotations

from django.apps import AppConfig


class StatusPageConfig(AppConfig):
    """The public status page, its Statuspage-compatible JSON, feeds and static copy (no models)."""

    name = "incidents.statuspage"
    label = "statuspage"
