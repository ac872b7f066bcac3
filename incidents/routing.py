"""Websocket routes of incidents: one live stream per incident page."""

from __future__ import annotations

from django.urls import path

from incidents.consumers import IncidentConsumer

websocket_urlpatterns = [
    path("ws/incidents/<str:code>/", IncidentConsumer.as_asgi()),
]
