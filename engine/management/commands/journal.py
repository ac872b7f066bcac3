"""Verify and inspect an engine journal without changing it."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from engine.core.wire import WireError, decode
from engine.journal import Journal, JournalCorruption, JournalError, read_snapshot


class Command(BaseCommand):
    help = "Verify an engine journal (exit 1 on corruption) or list its records. Never modifies it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["verify", "inspect"])
        parser.add_argument("directory", type=Path)
        parser.add_argument("--after", type=int, default=0, help="inspect: start after this sequence number")
        parser.add_argument("--limit", type=int, default=50, help="inspect: how many records to list")

    def handle(self, *args, action: str, directory: Path, after: int, limit: int, **options) -> None:
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory: give the journal's directory.")
        journal = Journal(directory)
        if action == "verify":
            self._verify(journal)
        else:
            self._inspect(journal, after=after, limit=limit)

    def _verify(self, journal: Journal) -> None:
        count, first = 0, None
        try:
            for record in journal.records(cut_torn_tail=False):
                first = record.sequence if first is None else first
                count += 1
        except JournalCorruption as error:
            raise CommandError(str(error)) from None
        segments = journal.segments()
        self.stdout.write(
            f"segments: {len(segments)}, records: {count}, sequences {first or '-'}..{journal.last_sequence or '-'}"
        )
        for path in journal.snapshots():
            try:
                sequence, payload = read_snapshot(path)
                self.stdout.write(f"snapshot {path.name}: sequence {sequence}, {len(payload)} bytes, ok")
            except JournalError as error:
                self.stdout.write(self.style.WARNING(f"snapshot {path.name}: {error}"))
        torn = journal.torn_tail
        if torn is not None:
            self.stdout.write(self.style.WARNING(
                f"torn last record in {torn.segment.name} at byte {torn.offset} ({torn.dropped_bytes} bytes, "
                f"{torn.problem}): recovery will cut it"
            ))  # fmt: skip
        self.stdout.write(self.style.SUCCESS("journal ok"))

    def _inspect(self, journal: Journal, *, after: int, limit: int) -> None:
        try:
            for shown, record in enumerate(journal.records(after=after, cut_torn_tail=False)):
                if shown >= limit:
                    break
                self.stdout.write(f"{record.sequence:>12}  {len(record.payload):>6} B  {_describe(record.payload)}")
        except JournalCorruption as error:
            raise CommandError(str(error)) from None


def _describe(payload: bytes) -> str:
    """Show a record as the command it holds (and its source), or as bytes if it holds none."""
    try:
        command, source = decode(payload)
    except WireError:
        return payload[:48].hex(" ")
    return f"{command!r}" + (f"  from {source}" if source is not None else "")
