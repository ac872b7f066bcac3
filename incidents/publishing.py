"""What customers can see changed: the one signal the public side listens to.

Services call `changed(...)` whenever something public changes (an incident published, a
public update, a resolution, a component status, a post-mortem published, a maintenance
notice). Listeners — the static status page export, the subscriber notifications — register
with `listen()` from their `AppConfig.ready()` and are called once the transaction commits,
so nothing is announced that was rolled back. A listener should only enqueue work; one that
raises is logged and does not stop the others.

Kinds (`Change.kind`):
- `incident_created`: a public incident appeared (declared, or a draft published).
- `incident_updated`: a public update was posted (`update_id`).
- `incident_resolved`: a public update resolved it (`update_id`).
- `incident_changed`: a public fact changed without an update (visibility, start time).
- `component_changed`: a component's status changed (`component_id`; never emailed alone).
- `postmortem_published`: its public summary is out (`postmortem_id`).
- `maintenance_<kind>` for a maintenance window (`maintenance_id`): `scheduled`, `rescheduled`,
  `started`, `extended`, `verifying`, `completed`, `cancelled` each come with the public update
  that says it (`update_id`, a MaintenanceUpdate); `reminder` is an advance notice (`notice_id`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

logger = logging.getLogger("incidents.publishing")

KINDS = frozenset({
    "incident_created", "incident_updated", "incident_resolved", "incident_changed", "component_changed",
    "postmortem_published",
    "maintenance_scheduled", "maintenance_rescheduled", "maintenance_reminder", "maintenance_started",
    "maintenance_extended", "maintenance_verifying", "maintenance_completed", "maintenance_cancelled",
})  # fmt: skip


@dataclass(frozen=True)
class Change:
    kind: str
    incident_id: int | None = None
    update_id: int | None = None
    component_id: int | None = None
    postmortem_id: int | None = None
    maintenance_id: int | None = None
    notice_id: int | None = None


Listener = Callable[[Change], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> Listener:
    """Call `listener` with every public change from now on (once, however often it is registered)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def forget(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def changed(kind: str, **ids: int | None) -> Change:
    """Announce a public change to every listener when the current transaction commits."""
    if kind not in KINDS:
        raise ValueError(f"Unknown public change {kind!r}; one of {', '.join(sorted(KINDS))}.")
    change = Change(kind, **ids)
    transaction.on_commit(functools.partial(_deliver, change))
    return change


def _deliver(change: Change) -> None:
    for listener in list(_listeners):
        try:
            listener(change)
        except Exception:  # one broken listener must not silence the others during an outage
            logger.exception("public change %s: listener %r failed", change.kind, listener)
