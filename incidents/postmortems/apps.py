from __future__ import annotations

from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    """Post-mortems of resolved incidents: sections, timeline copy, health charts, action items, review."""

    name = "incidents.postmortems"
    label = "postmortems"
    default_auto_field = "django.db.models.BigAutoField"
