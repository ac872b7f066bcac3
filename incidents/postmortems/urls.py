"""Console pages of post-mortems and action items, under /console/postmortems/."""

from __future__ import annotations

app_name = "postmortems"

urlpatterns: list = []
