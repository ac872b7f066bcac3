"""Statuspage-compatible JSON, mounted at /api/v2/ (the same paths Statuspage serves)."""

from __future__ import annotations

from django.urls import path

from incidents.statuspage import api_v2

app_name = "api_v2"

urlpatterns = [
    path(name, api_v2.document_view(name), name=name.removesuffix(".json").replace("/", "-"))
    for name in api_v2.DOCUMENTS
]
