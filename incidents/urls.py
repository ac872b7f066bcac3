"""Console pages of incidents, under /console/incidents/."""

from __future__ import annotations

from django.urls import path

from incidents.views import actions, pages

app_name = "incidents"

urlpatterns = [
    path("", pages.incident_list, name="list"),
    path("new/", pages.declare, name="declare"),
    path("<str:code>/", pages.detail, name="detail"),
    path("<str:code>/live/", pages.updates_fragment, name="updates_fragment"),
    path("<str:code>/timeline.md", pages.timeline_markdown, name="timeline_md"),
    path("<str:code>/updates/", actions.post_update, name="post_update"),
    path("<str:code>/publish/", actions.publish_draft, name="publish"),
    path("<str:code>/severity/", actions.change_severity, name="severity"),
    path("<str:code>/roles/", actions.assign_role, name="role"),
    path("<str:code>/started/", actions.set_started_at, name="started_at"),
]
