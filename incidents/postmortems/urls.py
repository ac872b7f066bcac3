"""Console pages of post-mortems and action items, under /console/postmortems/."""

from __future__ import annotations

from django.urls import path

from incidents.postmortems.views import actions, pages

app_name = "postmortems"

# `action-items/` comes before `<code>/`: an incident code is any string.
urlpatterns = [
    path("", pages.postmortem_list, name="list"),
    path("action-items/", pages.action_items, name="action_items"),
    path("<str:code>/", pages.detail, name="detail"),
    path("<str:code>/create/", actions.create, name="create"),
    path("<str:code>/postmortem.md", pages.markdown, name="markdown"),
    path("<str:code>/submit/", actions.submit, name="submit"),
    path("<str:code>/request-changes/", actions.request_changes, name="request_changes"),
    path("<str:code>/approve/", actions.approve, name="approve"),
    path("<str:code>/publish/", actions.publish, name="publish"),
    path("<str:code>/sections/<slug:key>/", actions.edit_section, name="section"),
    path("<str:code>/public-summary/", actions.public_summary, name="public_summary"),
    path("<str:code>/window/", actions.window, name="window"),
    path("<str:code>/timeline/", actions.add_timeline_entry, name="timeline_add"),
    path("<str:code>/timeline/refresh/", actions.refresh_timeline, name="timeline_refresh"),
    path("<str:code>/timeline/<int:entry_id>/", actions.edit_timeline_entry, name="timeline_edit"),
    path("<str:code>/timeline/<int:entry_id>/remove/", actions.remove_timeline_entry, name="timeline_remove"),
    path("<str:code>/action-items/", actions.add_action_item, name="action_item_add"),
    path("<str:code>/action-items/<int:item_id>/", actions.update_action_item, name="action_item_edit"),
]
