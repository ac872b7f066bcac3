"""New timeline entries to the console pages of their incident, as they are written.

One Channels group per incident (`incident.<id>`); `incidents.consumers.IncidentConsumer` joins
it. Entries are announced once their transaction commits, so a page never shows an entry
that was rolled back.
"""

from __future__ import annotations

import functools

from django.db import transaction

from console.broadcast import Broadcaster
from incidents.models import TimelineEntry

MESSAGE_TYPE = "timeline.entry"


def group_name(incident_id: int) -> str:
    return f"incident.{incident_id}"


def as_message(entry: TimelineEntry) -> dict:
    """The entry as the browser gets it."""
    return {
        "id": entry.pk, "at": entry.at.isoformat(), "kind": entry.kind, "actor_name": entry.actor_name,
        "summary": entry.summary, "detail": entry.detail,
    }  # fmt: skip


def announce(entry: TimelineEntry) -> None:
    """Send the entry to its incident's group when the current transaction commits."""
    message = {"type": MESSAGE_TYPE, "entry": as_message(entry)}
    transaction.on_commit(functools.partial(_sender().send, group_name(entry.incident_id), message))


@functools.cache
def _sender() -> Broadcaster:
    return Broadcaster("incident-timelines")
