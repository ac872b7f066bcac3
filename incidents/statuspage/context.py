"""What each public page shows, built from the public read model and nothing else (no request needed)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils import timezone

from incidents.statuspage import queries, uptime

# Built by others (subscriptions, feeds, JSON); linked by path so these pages never depend on them.
LINKS = {
    "subscribe": "/subscriptions/",
    "atom": "/history.atom",
    "rss": "/history.rss",
    "summary_json": "/api/v2/summary.json",
    "calendar": "/maintenance.ics",
}
RECENT_DAYS = 14
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def status_page_context(*, now: datetime | None = None) -> dict[str, Any]:
    """Return the home page's data: indicator, components with bars, incidents, maintenance, recent history."""
    now = now or timezone.now()
    groups = queries.with_uptime(queries.components_by_group(), now=now)
    components = [row.component for rows in groups for row in rows.components]
    active = list(queries.active_incidents())
    recent = queries.recent_incidents(RECENT_DAYS, now=now)
    completed = queries.completed_maintenance(RECENT_DAYS, now=now)
    maintenance = queries.scheduled_maintenance()
    return {
        "overall": queries.overall_status(components, active),
        "groups": groups,
        "active": [(incident, queries.public_timeline(incident)) for incident in active],
        "maintenance": maintenance,
        "maintenance_active": [window for window in maintenance if window.is_active()],
        "maintenance_upcoming": [window for window in maintenance if not window.is_active()],
        "recent_days": queries.history_by_day(recent, completed, RECENT_DAYS, now=now),
        "window_start": now.astimezone(UTC).date() - timedelta(days=uptime.WINDOW_DAYS - 1),
        "window_days": uptime.WINDOW_DAYS,
        "uptime_note": uptime.METHOD_NOTE,
        "links": LINKS,
    }


def history_context(month: date | None = None, *, now: datetime | None = None) -> dict[str, Any]:
    """Return one month of public incidents and maintenance (the current month by default) and its neighbours."""
    current = (now or timezone.now()).astimezone(UTC).date().replace(day=1)
    month = (month or current).replace(day=1)
    oldest = queries.first_month()
    older = queries.previous_month(month)
    newer = queries.next_month(month)
    return {
        "month": month,
        "incidents": list(queries.incidents_in_month(month)),
        "maintenance": queries.maintenance_in_month(month),
        "older": older if oldest is not None and older >= oldest else None,
        "newer": newer if newer <= current else None,
        "links": LINKS,
    }


def incident_context(code: str) -> dict[str, Any]:
    """Return a public incident's page data; raise Incident.DoesNotExist for internal, draft or unknown ones."""
    incident = queries.public_incident(code)
    return {
        "incident": incident,
        "timeline": queries.public_timeline(incident),
        "postmortem": queries.published_postmortem(incident),
        "duration": duration_text(incident.time_to_resolve()) if incident.resolved_at else None,
        "links": LINKS,
    }


def maintenance_context(code: str) -> dict[str, Any]:
    """Return a maintenance window's page data; raise MaintenanceWindow.DoesNotExist for unknown codes."""
    window = queries.public_window(code)
    return {"window": window, "updates": queries.window_updates(window), "links": LINKS}


def parse_month(text: str) -> date:
    """Return the first day of a `YYYY-MM` month; raise ValueError for anything else."""
    match = MONTH.match(text)
    if match is None:
        raise ValueError(f"Expected a month as YYYY-MM, got {text!r}.")
    return date(int(match[1]), int(match[2]), 1)


def duration_text(elapsed: timedelta | None) -> str:
    """Say a duration the way people read it: `2 h 14 min`, `3 d 4 h`, `under a minute`."""
    if elapsed is None:
        return ""
    minutes = int(elapsed.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    parts = [(days, "d"), (hours, "h"), (minutes, "min")]
    shown = [f"{value} {unit}" for value, unit in parts if value][:2]
    return " ".join(shown) or "under a minute"
