"""Every websocket route of the project, gathered from the apps' routing modules."""

from __future__ import annotations

from console.routing import websocket_urlpatterns as console_routes
from engine.routing import websocket_urlpatterns as engine_routes
from incidents.routing import websocket_urlpatterns as incident_routes

websocket_urlpatterns = [*console_routes, *engine_routes, *incident_routes]
