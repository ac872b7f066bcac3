"""The dashboard's "Open incidents" panel (registered by `IncidentsConfig.ready()` through `register`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from console.panels import Panel, panels_in, register_panel
from incidents.models import Incident

SLOT = "incidents"
TEMPLATE = "incidents/panels/open.html"
SHOWN = 10


def open_incidents_context(request: HttpRequest) -> dict[str, Any]:
    """The incidents not yet resolved, newest first; drafts included (they are marked)."""
    found = Incident.objects.exclude(status__in=[Incident.Status.RESOLVED, Incident.Status.POSTMORTEM])
    shown = list(found.select_related("commander").prefetch_related("affected")[:SHOWN])
    more = found.count() - SHOWN if len(shown) == SHOWN else 0
    return {"incidents": shown, "more": more}


def register() -> Panel:
    """Put the panel on the dashboard, once however often it is called (ready() may run more than once)."""
    for panel in panels_in(SLOT):
        if panel.template_name == TEMPLATE:
            return panel
    return register_panel(SLOT, "Open incidents", TEMPLATE, open_incidents_context, order=10)
