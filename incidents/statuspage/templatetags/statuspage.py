"""Filters the public pages use to say statuses in words."""

from __future__ import annotations

from django import template

from incidents.models import ComponentStatus, Incident

register = template.Library()


@register.filter
def component_status(value: str) -> str:
    """Return a component status's label (`major_outage` -> `Major outage`)."""
    return ComponentStatus(value).label if value in ComponentStatus.values else value


@register.filter
def incident_status(value: str) -> str:
    """Return an incident status's label (`identified` -> `Identified`)."""
    return Incident.Status(value).label if value in Incident.Status.values else value
