from __future__ import annotations

from django.apps import AppConfig


class EngineConfig(AppConfig):
    """The matching engine: pure core, journal, supervised worker, live health."""

    name = "engine"
    default_auto_field = "django.db.models.BigAutoField"
