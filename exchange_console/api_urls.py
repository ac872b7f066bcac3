"""Version 1 of the operator API: every app's endpoints under /api/v1/."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from console import api as console_api
from engine import api as engine_api

router = DefaultRouter()
router.register("users", console_api.UserViewSet, basename="user")
router.register("audit", console_api.AuditEntryViewSet, basename="audit")

urlpatterns = [
    path("me/", console_api.me, name="api-me"),
    path("auth/token/", console_api.ObtainTokenView.as_view(), name="api-token"),
    path("markets/", engine_api.markets, name="api-markets"),
    path("markets/<str:symbol>/mode/", engine_api.change_mode, name="api-market-mode"),
    path("engine/health/", engine_api.health, name="api-engine-health"),
    path("engine/restart/", engine_api.restart_engine, name="api-engine-restart"),
    path("engine/drills/", engine_api.start_drill, name="api-engine-drills"),
    path("orders/", engine_api.place_order, name="api-orders"),
    path("orders/batch/", engine_api.place_batch, name="api-orders-batch"),
    path("orders/<int:order_id>/", engine_api.cancel_order, name="api-order"),
    *router.urls,
]
