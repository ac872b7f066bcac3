"""Version 1 of the operator API: every app's endpoints under /api/v1/."""

from __future__ import annotations

from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from console import api as console_api

router = DefaultRouter()
router.register("users", console_api.UserViewSet, basename="user")
router.register("audit", console_api.AuditEntryViewSet, basename="audit")

urlpatterns = [
    path("me/", console_api.me, name="api-me"),
    path("auth/token/", obtain_auth_token, name="api-token"),
    *router.urls,
]
