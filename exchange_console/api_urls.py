"""Version 1 of the operator API: every app's endpoints under /api/v1/."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from console import api as console_api

router = DefaultRouter()
router.register("users", console_api.UserViewSet, basename="user")
router.register("audit", console_api.AuditEntryViewSet, basename="audit")

urlpatterns = [
    path("me/", console_api.me, name="api-me"),
    path("auth/token/", console_api.ObtainTokenView.as_view(), name="api-token"),
    *router.urls,
]
