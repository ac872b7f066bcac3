"""The one writer of incident timelines (STYLE.md practice 5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from incidents import live
from incidents.models import Incident, TimelineEntry


def log(
    *, incident: Incident, kind: str, summary: str, actor: Any = None, detail: dict | None = None,
    at: datetime | None = None,
) -> TimelineEntry:  # fmt: skip
    """Append one entry to an incident's timeline."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    entry = TimelineEntry.objects.create(
        incident=incident,
        at=at or timezone.now(),
        kind=kind,
        actor=user,
        actor_name=user.get_username() if user else "system",
        summary=summary[:300],
        detail=detail or {},
    )
    live.announce(entry)
    return entry


def as_markdown(incident: Incident) -> str:
    """The timeline as a Markdown list, for post-mortems and hand-offs."""
    lines = [f"# {incident.code}: {incident.title}", ""]
    for entry in incident.timeline.all():
        lines.append(f"- **{entry.at:%Y-%m-%d %H:%M:%S} UTC** ({entry.kind}, {entry.actor_name}): {entry.summary}")
    return "\n".join(lines) + "\n"
