"""The project's URL map: public pages, the console, the API and health probes."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from console import health
from engine import prometheus

urlpatterns = [
    # The public status page takes "/" when it lands; until then "/" leads to the console.
    path("", RedirectView.as_view(pattern_name="console:home", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", prometheus.metrics, name="metrics"),
    path("accounts/", include("console.auth_urls")),
    path("console/engine/", include("engine.urls")),
    path("console/incidents/", include("incidents.urls")),
    path("console/postmortems/", include("incidents.postmortems.urls")),
    path("console/", include("console.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("exchange_console.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
