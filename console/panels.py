"""Dashboard panels other apps plug in: open incidents, upcoming maintenance, and what comes later.

An app registers a panel for a slot from its `AppConfig.ready()`:

    register_panel("incidents", "Open incidents", "incidents/panels/open.html", open_incidents_context, order=10)

The dashboard renders every panel of a slot, in order; a slot nobody filled says so ("Not
available yet") rather than showing made-up data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

logger = logging.getLogger("console.panels")

ContextFunction = Callable[[HttpRequest], dict[str, Any]]

# The dashboard's slots and the heading each shows when nothing fills it.
SLOTS = {
    "incidents": "Open incidents",
    "maintenance": "Upcoming maintenance",
}


@dataclass(frozen=True)
class Panel:
    slot: str
    title: str
    template_name: str
    context_fn: ContextFunction
    order: int = 100


@dataclass(frozen=True)
class RenderedPanel:
    title: str
    html: SafeString | None  # None when the panel failed to render
    slot: str


_panels: list[Panel] = []


def register_panel(slot: str, title: str, template_name: str, context_fn: ContextFunction, order: int = 100) -> Panel:
    """Add a panel to a dashboard slot; return it (for `unregister_panel`)."""
    if slot not in SLOTS:
        raise ValueError(f"No dashboard slot {slot!r}; use one of: {', '.join(SLOTS)}.")
    panel = Panel(slot, title, template_name, context_fn, order)
    _panels.append(panel)
    return panel


def unregister_panel(panel: Panel) -> None:
    """Remove a registered panel (tests, and apps that switch a panel off)."""
    if panel in _panels:
        _panels.remove(panel)


def panels_in(slot: str) -> list[Panel]:
    return sorted((panel for panel in _panels if panel.slot == slot), key=lambda panel: panel.order)


def render_slot(slot: str, request: HttpRequest) -> list[RenderedPanel]:
    """Render a slot's panels for this request, in order; an empty list when none is registered."""
    return [_render(panel, request) for panel in panels_in(slot)]


def _render(panel: Panel, request: HttpRequest) -> RenderedPanel:
    try:
        html = render_to_string(panel.template_name, panel.context_fn(request), request=request)
    except Exception:  # one broken panel must not take the dashboard down during an outage
        logger.exception("dashboard panel %r (%s) failed to render", panel.title, panel.template_name)
        html = None
    return RenderedPanel(panel.title, html, panel.slot)
