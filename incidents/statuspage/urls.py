"""The public status page, mounted at the site's root."""

from __future__ import annotations

from django.urls import path

from incidents.statuspage import views

app_name = "statuspage"

urlpatterns = [
    path("", views.home, name="home"),
    path("status/", views.home, name="status"),
    path("history/", views.history, name="history"),
    path("incidents/<str:code>/", views.incident, name="incident"),
    path("maintenance/<str:code>/", views.maintenance, name="maintenance"),
]
