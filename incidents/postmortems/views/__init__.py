"""Console pages of post-mortems and action items (`pages`) and the small POST actions on them (`actions`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from console.permissions import Capability, can
from incidents.postmortems.models import Postmortem


def get_postmortem_for(user: Any, code: str) -> Postmortem:
    """Load the post-mortem of incident `code` for a console user: 404 when there is none, 403 without a role.

    Every console user reads every post-mortem (the console is internal); what they may
    change is decided by `incidents.postmortems.services`.
    """
    if not can(user, Capability.VIEW_CONSOLE):
        raise PermissionDenied(f"Your role may not {Capability.VIEW_CONSOLE.label.lower()}.")
    related = ("incident", "author", "approved_by")
    return get_object_or_404(Postmortem.objects.select_related(*related), incident__code=code)
