"""The dashboard's "Upcoming maintenance" panel (registered by `MaintenanceConfig.ready()` through `register`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from console.panels import Panel, panels_in, register_panel
from incidents.maintenance.models import MaintenanceWindow
from incidents.maintenance.views.pages import open_windows

SLOT = "maintenance"
TEMPLATE = "maintenance/panels/upcoming.html"
AHEAD = timedelta(days=7)
SHOWN = 10


def upcoming_maintenance_context(request: HttpRequest) -> dict[str, Any]:
    """Windows in progress or verifying, then those starting in the next 7 days, soonest first."""
    horizon = timezone.now() + AHEAD
    found = open_windows().filter(Q(status__in=MaintenanceWindow.ACTIVE) | Q(scheduled_for__lt=horizon))
    shown = list(found[:SHOWN])
    more = found.count() - SHOWN if len(shown) == SHOWN else 0
    later = MaintenanceWindow.objects.filter(status=MaintenanceWindow.Status.SCHEDULED, scheduled_for__gte=horizon)
    return {"windows": shown, "more": more, "later": later.count()}


def register() -> Panel:
    """Put the panel on the dashboard, once however often it is called (ready() may run more than once)."""
    for panel in panels_in(SLOT):
        if panel.template_name == TEMPLATE:
            return panel
    return register_panel(SLOT, "Upcoming maintenance", TEMPLATE, upcoming_maintenance_context, order=10)
