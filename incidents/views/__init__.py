"""Console pages of incidents (`pages`) and the small POST actions on them (`actions`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from console.permissions import Capability, can
from incidents.models import Incident


def get_incident_for(user: Any, code: str, *, needs: Capability = Capability.VIEW_CONSOLE) -> Incident:
    """Load an incident the user may work on: 404 when unknown, 403 without `needs`.

    Every console user reads every incident, internal ones and drafts included (the console
    is internal); what they may change is checked again by `incidents.services`.
    """
    if not can(user, needs):
        raise PermissionDenied(f"Your role may not {needs.label.lower()}.")
    return get_object_or_404(Incident.objects.select_related("commander", "communications_lead"), code=code)
