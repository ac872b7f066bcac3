from __future__ import annotations

from django.urls import path

from engine.consumers import HealthConsumer

websocket_urlpatterns = [
    path("ws/engine/health/", HealthConsumer.as_asgi()),
]
