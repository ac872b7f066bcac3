"""Atom and RSS feeds of the status history: every public update of a public incident is an entry."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed

from incidents.models import Incident, IncidentUpdate
from incidents.statuspage import queries, shapes

RECENT_INCIDENTS = 50
MAX_ENTRIES = 100


def history_entries() -> list[IncidentUpdate]:
    """Return the public updates of the most recent public incidents, newest first."""
    entries = [
        update
        for incident in queries.public_incidents()[:RECENT_INCIDENTS]
        for update in queries.public_updates(incident)
    ]
    entries.sort(key=lambda update: (update.at, update.pk), reverse=True)
    return entries[:MAX_ENTRIES]


class HistoryFeed(Feed):
    """The incident history as a feed; the subclasses choose Atom or RSS."""

    link = "/history/"

    def title(self) -> str:
        return f"{settings.STATUS_PAGE_NAME}: incident history"

    def description(self) -> str:
        return f"Every public update about incidents at {settings.STATUS_PAGE_NAME}, newest first."

    def items(self) -> list[IncidentUpdate]:
        return history_entries()

    def item_title(self, item: IncidentUpdate) -> str:
        status = Incident.Status(shapes.update_status(item)).label
        return f"{item.incident.code}: {item.incident.title} — {status}"

    def item_description(self, item: IncidentUpdate) -> str:
        return item.body_html  # rendered and sanitized when it was posted

    def item_link(self, item: IncidentUpdate) -> str:
        return f"/incidents/{item.incident.code}/#update-{item.pk}"

    def item_pubdate(self, item: IncidentUpdate) -> datetime:
        return item.at

    def item_updateddate(self, item: IncidentUpdate) -> datetime:
        return item.at

    def item_categories(self, item: IncidentUpdate) -> list[str]:
        return [item.incident.code, shapes.update_status(item)]


class HistoryAtomFeed(HistoryFeed):
    feed_type = Atom1Feed
    subtitle = HistoryFeed.description


class HistoryRssFeed(HistoryFeed):
    feed_type = Rss201rev2Feed
