"""The Atom and RSS feeds parse as feed readers parse them: one entry per public update, nothing internal."""

from __future__ import annotations

from typing import Any

import feedparser
import pytest
from django.test import Client

from incidents import services
from incidents.models import Component, ComponentStatus, Incident

pytestmark = pytest.mark.django_db

FEEDS = ["/history.atom", "/history.rss"]


def parse(client: Client, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")  # well-formed, as a reader sees it
    return feed


@pytest.fixture
def history(commander) -> Incident:
    """A public incident with three public updates, one internal note; an internal incident and a draft."""
    trading = Component.objects.create(name="BTC-USD trading")
    incident = services.declare_incident(title="Orders time out", by=commander, message="We are **investigating**.",
                                         components={trading: ComponentStatus.MAJOR_OUTAGE})  # fmt: skip
    services.add_note(incident=incident, body="SECRET-NOTE paged the DB team", by=commander)
    services.post_update(incident=incident, body="The cause is found.", by=commander, status=Incident.Status.IDENTIFIED)
    services.post_update(incident=incident, body="Fixed.", by=commander, status=Incident.Status.RESOLVED,
                         components={trading: ComponentStatus.OPERATIONAL})  # fmt: skip
    services.declare_incident(title="SECRET-INTERNAL disk filling", by=commander, message="SECRET-INTERNAL body",
                              visibility=Incident.Visibility.INTERNAL)  # fmt: skip
    services.declare_incident(title="SECRET-DRAFT heartbeat", by=None, draft=True, message="SECRET-DRAFT body")
    return incident


def test_the_atom_feed_has_one_entry_per_public_update_newest_first(client, history):
    feed = parse(client, "/history.atom")
    assert feed.version == "atom10"
    titles = [entry.title for entry in feed.entries]
    assert titles == [
        f"{history.code}: Orders time out — Resolved",
        f"{history.code}: Orders time out — Identified",
        f"{history.code}: Orders time out — Investigating",
    ]


def test_the_rss_feed_has_the_same_entries(client, history):
    feed = parse(client, "/history.rss")
    assert feed.version == "rss20"
    assert [entry.title for entry in feed.entries] == [entry.title for entry in parse(client, "/history.atom").entries]


@pytest.mark.parametrize("path", FEEDS)
def test_each_entry_links_to_its_update_on_the_incident_page_and_has_its_text(client, history, path):
    updates = list(history.updates.filter(internal=False).order_by("-at", "-id"))
    entries = parse(client, path).entries
    assert [entry.link for entry in entries] == [
        f"http://testserver/incidents/{history.code}/#update-{update.pk}" for update in updates
    ]
    assert len({entry.id for entry in entries}) == len(entries)  # unique ids, so readers show each once
    assert "<strong>investigating</strong>" in entries[-1].summary  # the sanitized HTML body
    assert all(entry.published_parsed for entry in entries)


@pytest.mark.parametrize("path", FEEDS)
def test_internal_notes_internal_incidents_and_drafts_are_absent(client, history, path):
    body = client.get(path).content.decode()
    assert "SECRET" not in body


@pytest.mark.parametrize("path", FEEDS)
def test_a_feed_answers_304_when_nothing_changed(client, history, path):
    first = client.get(path)
    assert first["ETag"]
    assert first["Last-Modified"]
    assert client.get(path, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert client.get(path, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304


def test_the_feeds_name_the_page_and_link_the_history(client, history, settings):
    feed = parse(client, "/history.atom").feed
    assert feed.title == f"{settings.STATUS_PAGE_NAME}: incident history"
    assert feed.link == "http://testserver/history/"


def test_an_empty_history_is_a_valid_feed(client):
    assert parse(client, "/history.atom").entries == []
    assert parse(client, "/history.rss").entries == []
