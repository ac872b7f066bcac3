"""The maintenance calendar, /maintenance.ics: one VEVENT per window, for calendar apps to subscribe to (RFC 5545).

Calendar apps match events by UID and replace one only when its SEQUENCE grows (the services
bump `window.sequence` on every reschedule, extension and cancellation), so the UID is the
window's code at the configured status page host, the same whichever host served the file.
A cancelled window stays in the calendar with STATUS:CANCELLED, so subscribed calendars drop it
(and its SUMMARY says so, for apps that keep showing cancelled events). DTSTAMP and LAST-MODIFIED
are when the window last changed, not when the file was made: the same data gives the same bytes.
Descriptions are plain text built from the public face of the window only.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.html import strip_tags
from icalendar import Calendar, Event, vDuration, vUri

from incidents.maintenance.models import MaintenanceWindow
from incidents.statuspage import api_v2, queries

CONTENT_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//Exchange Console//Status page maintenance//EN"
# How often calendar apps should fetch the file again (REFRESH-INTERVAL, and X-PUBLISHED-TTL for Outlook).
REFRESH = timedelta(hours=1)
BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|pre|blockquote|tr|table|ul|ol)>|<br\s*/?>", re.IGNORECASE)
LIST_ITEM = re.compile(r"<li\b[^>]*>", re.IGNORECASE)


def calendar(base_url: str, *, now: datetime | None = None) -> bytes:
    """Return the maintenance calendar: windows that ended in the last 90 days or end later, cancelled ones too."""
    name = f"{settings.STATUS_PAGE_NAME}: maintenance"
    about = f"Scheduled maintenance at {settings.STATUS_PAGE_NAME}. All times are in UTC."
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", "PUBLISH")
    cal.add("NAME", name)
    cal.add("X-WR-CALNAME", name)
    cal.add("DESCRIPTION", about)
    cal.add("X-WR-CALDESC", about)
    cal.add("URL", vUri(f"{base_url}/"))
    cal.add("SOURCE", vUri(f"{base_url}/maintenance.ics"), parameters={"VALUE": "URI"})
    cal.add("REFRESH-INTERVAL", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    for window in queries.calendar_maintenance(now=now):
        cal.add_component(event(window, base_url=base_url))
    return cal.to_ical()


def event(window: MaintenanceWindow, *, base_url: str) -> Event:
    """Return the window's VEVENT."""
    cancelled = window.status == MaintenanceWindow.Status.CANCELLED
    changed = queries.window_changed_at(window).astimezone(UTC)
    item = Event()
    item.add("UID", f"{window.code}@{uid_host()}")
    item.add("DTSTAMP", changed)
    item.add("DTSTART", window.scheduled_for.astimezone(UTC))
    item.add("DTEND", window.scheduled_until.astimezone(UTC))
    item.add("SUMMARY", f"{'Cancelled: ' if cancelled else ''}Maintenance: {window.title}")
    item.add("DESCRIPTION", description(window, base_url=base_url))
    item.add("URL", vUri(f"{base_url}/maintenance/{window.code}/"))
    item.add("SEQUENCE", window.sequence)
    item.add("CREATED", window.created_at.astimezone(UTC))
    item.add("LAST-MODIFIED", changed)
    item.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
    item.add("TRANSP", "TRANSPARENT")  # maintenance does not make subscribers busy
    item.add("CATEGORIES", ["Maintenance"])
    return item


def description(window: MaintenanceWindow, *, base_url: str) -> str:
    """Return the event's plain-text description: what customers should expect, what it affects, the latest news."""
    parts = [f"Status: {window.get_status_display()}."]
    if window.description_html:
        parts.append(plain_text(window.description_html))
    parts.append("Affects: " + ", ".join(component.name for component in window.components.all()) + ".")
    updates = queries.window_updates(window)
    if updates:
        latest = updates[0]
        parts.append(f"Latest update ({latest.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC): {plain_text(latest.body_html)}")
    parts.append(f"Details: {base_url}/maintenance/{window.code}/")
    return "\n\n".join(parts)


def plain_text(fragment: str) -> str:
    """Return sanitized HTML as plain text: blocks on their own lines, list items with a dash, no tags."""
    text = BLOCK_END.sub("\n", LIST_ITEM.sub("- ", fragment))
    text = html.unescape(strip_tags(text))
    text = re.sub(r"\n\s*\n(?=- )", "\n", text)  # list items on consecutive lines
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def uid_host() -> str:
    """Return the host that makes event UIDs unique: the configured status page's, however it was reached."""
    return urlsplit(settings.STATUS_PAGE_URL).hostname or "status-page"


def calendar_view(request: HttpRequest) -> HttpResponse:
    """Serve /maintenance.ics (feed_urls wraps it in `api_v2.public`: conditional GET, caching)."""
    return HttpResponse(calendar(api_v2.base_url(request)), content_type=CONTENT_TYPE)
