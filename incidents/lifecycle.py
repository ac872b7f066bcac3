"""An incident's allowed status moves and what each move stamps: the one table the rules live in."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import Incident

Status = Incident.Status

# status -> the statuses it may move to. Reopening a resolved incident goes back to
# investigating; `postmortem` is reached only by publishing a post-mortem.
MOVES: dict[str, frozenset[str]] = {
    Status.INVESTIGATING: frozenset({Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED}),
    Status.IDENTIFIED: frozenset({Status.INVESTIGATING, Status.MONITORING, Status.RESOLVED}),
    Status.MONITORING: frozenset({Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.INVESTIGATING, Status.POSTMORTEM}),
    Status.POSTMORTEM: frozenset(),
}

# Timestamps a move into a status sets when they are still empty: a status past investigating
# means someone took the incident in hand; monitoring means a fix is in; resolved, it is over.
STAMPS: dict[str, tuple[str, ...]] = {
    Status.IDENTIFIED: ("acknowledged_at",),
    Status.MONITORING: ("acknowledged_at", "mitigated_at"),
    Status.RESOLVED: ("acknowledged_at", "mitigated_at", "resolved_at"),
}


class IllegalMove(ValidationError):
    """A status move the table does not allow; the message says what is allowed instead."""


def check_move(incident: Incident, to: str, *, via_postmortem: bool = False) -> None:
    """Raise `IllegalMove` unless `incident` may go from its status to `to`."""
    current = incident.status
    if to not in Status.values:
        raise IllegalMove({"status": [f"Unknown status {to!r}: one of {', '.join(Status.values)}."]})
    if to == current:
        raise IllegalMove({"status": [f"{incident.code} is already {Status(to).label.lower()}."]})
    if to == Status.POSTMORTEM and not via_postmortem and current == Status.RESOLVED:
        raise IllegalMove({"status": ["An incident reaches post-mortem when its post-mortem is published."]})
    if to not in MOVES[current]:
        allowed = ", ".join(sorted(MOVES[current])) or "nothing: it is final"
        raise IllegalMove({"status": [f"{incident.code} cannot go from {current} to {to}; from {current}: {allowed}."]})


def apply_move(incident: Incident, to: str) -> list[str]:
    """Set the status and the timestamps it implies; return the changed field names (not saved)."""
    changed = ["status"]
    now = timezone.now()
    for name in STAMPS.get(to, ()):
        if getattr(incident, name) is None:
            setattr(incident, name, now)
            changed.append(name)
    if to == Status.INVESTIGATING and incident.resolved_at is not None:  # reopened: not resolved any more
        incident.resolved_at = None
        changed.append("resolved_at")
    incident.status = to
    return changed
