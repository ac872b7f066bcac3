"""The engine's console pages (the dashboard itself is the console's home, `console:home`)."""

from __future__ import annotations

from django.urls import path

from engine import views

app_name = "engine"

urlpatterns = [
    path("history/", views.history, name="history"),
]
