"""Console pages for support: subscribers and the delivery log, under /console/subscribers/."""

from __future__ import annotations

app_name = "subscribers"

urlpatterns: list = []
