from __future__ import annotations

from django.urls import path

from console.views import pages

app_name = "console"

urlpatterns = [
    path("", pages.home, name="home"),
    path("audit/", pages.audit_log, name="audit"),
]
