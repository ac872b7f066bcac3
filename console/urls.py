from __future__ import annotations

from django.urls import path

from console.views import pages
from engine.views import dashboard

app_name = "console"

urlpatterns = [
    # The console opens on the live engine dashboard.
    path("", dashboard, name="home"),
    path("audit/", pages.audit_log, name="audit"),
]
