"""Console pages of maintenance windows, under /console/maintenance/."""

from __future__ import annotations

from django.urls import path

from incidents.maintenance.views import actions, pages

app_name = "maintenance"

# `new/` comes before `<code>/`: a window's code is any string.
urlpatterns = [
    path("", pages.window_list, name="list"),
    path("new/", pages.schedule, name="schedule"),
    path("<str:code>/", pages.detail, name="detail"),
    path("<str:code>/start/", actions.start, name="start"),
    path("<str:code>/reschedule/", actions.reschedule, name="reschedule"),
    path("<str:code>/extend/", actions.extend, name="extend"),
    path("<str:code>/end/", actions.end, name="end"),
    path("<str:code>/complete/", actions.complete, name="complete"),
    path("<str:code>/cancel/", actions.cancel, name="cancel"),
]
