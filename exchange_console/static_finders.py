"""Static files that live in installed packages: Plotly.js from the pinned `plotly` wheel.

The wheel's `package_data` also holds a widget bundle, datasets and templates; listing the
whole folder in STATICFILES_DIRS would publish them all. This finder exposes one file, under
`vendor/plotly/`, for `{% static %}`, whitenoise and collectstatic alike: no copy in the
repository, never a CDN.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles import utils
from django.contrib.staticfiles.finders import BaseFinder, searched_locations
from django.core.files.storage import FileSystemStorage

PLOTLY_PREFIX = "vendor/plotly"
PLOTLY_FILE = "plotly.min.js"
PLOTLY_URL_PATH = f"{PLOTLY_PREFIX}/{PLOTLY_FILE}"


class PlotlyFinder(BaseFinder):
    """Find `vendor/plotly/plotly.min.js` in the installed plotly package, and nothing else there."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.location = Path(plotly.__file__).resolve().parent / "package_data"
        self.storage = FileSystemStorage(location=self.location)
        self.storage.prefix = PLOTLY_PREFIX  # where collectstatic and whitenoise put the file
        super().__init__(*args, **kwargs)

    def check(self, **kwargs: Any) -> list:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        if str(self.location) not in searched_locations:
            searched_locations.append(str(self.location))
        if path != PLOTLY_URL_PATH or not self.storage.exists(PLOTLY_FILE):
            return []
        match = self.storage.path(PLOTLY_FILE)
        return [match] if find_all else match

    def list(self, ignore_patterns: list[str] | None) -> Iterator[tuple[str, FileSystemStorage]]:
        if self.storage.exists(PLOTLY_FILE) and not utils.matches_patterns(PLOTLY_FILE, ignore_patterns or []):
            yield PLOTLY_FILE, self.storage
