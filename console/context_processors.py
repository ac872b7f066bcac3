from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from console.navigation import sections_for
from console.permissions import role_of


def console(request: HttpRequest) -> dict[str, Any]:
    """Give every console template the user's role and the sections they may open."""
    user = getattr(request, "user", None)
    role = role_of(user)
    return {
        "console_role": role,
        "console_sections": sections_for(user, request.path) if role is not None else [],
    }
