"""The project's URL map: public pages, the console, the API and health probes."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from console import health
from engine import prometheus

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", prometheus.metrics, name="metrics"),
    path("accounts/", include("console.auth_urls")),
    path("console/engine/", include("engine.urls")),
    path("console/incidents/", include("incidents.urls")),
    path("console/postmortems/", include("incidents.postmortems.urls")),
    path("console/maintenance/", include("incidents.maintenance.urls")),
    path("console/subscribers/", include("incidents.subscriptions.console_urls")),
    path("console/", include("console.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("exchange_console.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Public, anonymous: what customers read (issue 7).
    path("api/v2/", include("incidents.statuspage.api_v2_urls")),
    path("subscriptions/", include("incidents.subscriptions.urls")),
    path("", include("incidents.statuspage.feed_urls")),
    path("", include("incidents.statuspage.urls")),
]
