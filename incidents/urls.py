"""Console pages of incidents, under /console/incidents/."""

from __future__ import annotations

app_name = "incidents"

urlpatterns: list = []
