"""Atom and RSS feeds of the status history: every public update of a public incident or a maintenance window.

Entries are built as `Entry`s first, so incidents and maintenance mix in one list, newest first;
the feed classes only read them. A window's first entry is its announcement (`scheduled`), and
a cancelled window's last one says it was cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import format_html

from incidents.maintenance.models import MaintenanceUpdate, MaintenanceWindow
from incidents.models import Incident, IncidentUpdate
from incidents.statuspage import queries, shapes

RECENT_INCIDENTS = 50
MAX_ENTRIES = 100


@dataclass(frozen=True)
class Entry:
    """One feed entry: a public update, said the way feed readers show it."""

    title: str
    description: str  # HTML, sanitized
    link: str  # a path on the status page; the feed makes it absolute
    at: datetime
    categories: tuple[str, ...]
    order: tuple  # ties at the same moment: a stable order


def incident_entry(update: IncidentUpdate) -> Entry:
    status = shapes.update_status(update)
    return Entry(
        title=f"{update.incident.code}: {update.incident.title} — {Incident.Status(status).label}",
        description=update.body_html,  # rendered and sanitized when it was posted
        link=f"/incidents/{update.incident.code}/#update-{update.pk}",
        at=update.at, categories=(update.incident.code, status), order=(update.at, 0, update.pk),
    )  # fmt: skip


def maintenance_entry(window: MaintenanceWindow, update: MaintenanceUpdate) -> Entry:
    components = ", ".join(component.name for component in window.components.all())
    facts = format_html(
        "<p>Scheduled maintenance {} UTC to {} UTC. Affects: {}.</p>",
        _utc(window.scheduled_for), _utc(window.scheduled_until), components,
    )  # fmt: skip
    return Entry(
        title=f"{window.code}: {window.title} — Maintenance {update.get_kind_display().lower()}",
        description=update.body_html + facts,
        link=f"/maintenance/{window.code}/#update-{update.pk}",
        at=update.at, categories=(window.code, "maintenance", str(update.status)), order=(update.at, 1, update.pk),
    )  # fmt: skip


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}"


def history_entries() -> list[Entry]:
    """Return the public updates of the most recent public incidents and maintenance windows, newest first."""
    entries = [
        incident_entry(update)
        for incident in queries.public_incidents()[:RECENT_INCIDENTS]
        for update in queries.public_updates(incident)
    ]
    entries += [
        maintenance_entry(window, update)
        for window in queries.feed_maintenance()
        for update in queries.window_updates(window)
    ]
    entries.sort(key=lambda entry: entry.order, reverse=True)
    return entries[:MAX_ENTRIES]


class HistoryFeed(Feed):
    """The incident and maintenance history as a feed; the subclasses choose Atom or RSS."""

    link = "/history/"

    def title(self) -> str:
        return f"{settings.STATUS_PAGE_NAME}: incident history"

    def description(self) -> str:
        return f"Every public update about incidents and maintenance at {settings.STATUS_PAGE_NAME}, newest first."

    def items(self) -> list[Entry]:
        return history_entries()

    def item_title(self, item: Entry) -> str:
        return item.title

    def item_description(self, item: Entry) -> str:
        return item.description

    def item_link(self, item: Entry) -> str:
        return item.link

    def item_pubdate(self, item: Entry) -> datetime:
        return item.at

    def item_updateddate(self, item: Entry) -> datetime:
        return item.at

    def item_categories(self, item: Entry) -> tuple[str, ...]:
        return item.categories


class HistoryAtomFeed(HistoryFeed):
    feed_type = Atom1Feed
    subtitle = HistoryFeed.description


class HistoryRssFeed(HistoryFeed):
    feed_type = Rss201rev2Feed
