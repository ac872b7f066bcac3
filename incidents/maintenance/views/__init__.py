"""Console pages of maintenance windows (`pages`) and the commander's small POST actions on them (`actions`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from console.permissions import Capability, can
from incidents.maintenance.models import MaintenanceWindow


def get_window_for(user: Any, code: str, *, needs: Capability = Capability.VIEW_CONSOLE) -> MaintenanceWindow:
    """Load a window the user may work on: 404 when unknown, 403 without `needs`.

    Every console user reads every window; changing one needs the right to schedule
    maintenance, which `incidents.maintenance.services` checks again.
    """
    if not can(user, needs):
        raise PermissionDenied(f"Your role may not {needs.label.lower()}.")
    return get_object_or_404(MaintenanceWindow.objects.select_related("created_by"), code=code)
