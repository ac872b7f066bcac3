"""Export the static copy of the public status page now (also done on every public change)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from incidents.statuspage.export import export_status_page


class Command(BaseCommand):
    help = "Render the public status page, its JSON and feeds into STATUS_EXPORT_DIR and make that copy current."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--directory", type=Path, help="Export here instead of STATUS_EXPORT_DIR.")

    def handle(self, *args: Any, directory: Path | None = None, **options: Any) -> None:
        release = export_status_page(directory)
        self.stdout.write(f"Status page exported: {release.parent.parent / 'current'} -> {release.name}")
