"""The console's sections; each capability's issue lights up its entry by adding the URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from console.permissions import Capability, can


@dataclass(frozen=True)
class Section:
    label: str
    url_name: str
    capability: Capability


SECTIONS = (
    Section("Dashboard", "console:home", Capability.VIEW_CONSOLE),
    Section("Incidents", "incidents:list", Capability.VIEW_CONSOLE),
    Section("Post-mortems", "postmortems:list", Capability.VIEW_CONSOLE),
    Section("Maintenance", "maintenance:list", Capability.VIEW_CONSOLE),
    Section("Subscribers", "subscribers:list", Capability.MANAGE_SUBSCRIBERS),
    Section("Audit log", "console:audit", Capability.VIEW_AUDIT_LOG),
    Section("Admin", "admin:index", Capability.MANAGE_USERS),
)


def sections_for(user: Any, current_path: str) -> list[dict[str, Any]]:
    """Return the sections the user may open, each with its URL (None while not built yet)."""
    entries = []
    for section in SECTIONS:
        if not can(user, section.capability):
            continue
        try:
            url = reverse(section.url_name)
        except NoReverseMatch:
            url = None
        active = url is not None and (current_path == url or (url != "/console/" and current_path.startswith(url)))
        entries.append({"label": section.label, "url": url, "active": active})
    return entries
