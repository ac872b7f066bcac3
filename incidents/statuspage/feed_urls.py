"""Atom and RSS feeds of public incidents and maintenance, and the maintenance calendar, mounted at the site root."""

from __future__ import annotations

from django.urls import path

from incidents.statuspage import api_v2, feeds, ical

urlpatterns = [
    path("history.atom", api_v2.public(feeds.HistoryAtomFeed()), name="status-history-atom"),
    path("history.rss", api_v2.public(feeds.HistoryRssFeed()), name="status-history-rss"),
    path("maintenance.ics", api_v2.public(ical.calendar_view), name="status-maintenance-ics"),
]
