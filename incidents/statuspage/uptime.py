"""Daily uptime of a component from its recorded status history: the status page's 90-day bars.

How time counts: a moment in major outage counts fully as down, a moment in partial outage
30 % down (some customers, some requests still get through); degraded performance and under
maintenance count as up (the service works, slower or as announced). A day's uptime is the
up share of its known time; time before the component's history starts, and after now, is
not known, so a day with no known time shows "no data". Days are UTC days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal

from incidents.models import ComponentStatus

WINDOW_DAYS = 90
DOWN_WEIGHT = {ComponentStatus.MAJOR_OUTAGE: 1.0, ComponentStatus.PARTIAL_OUTAGE: 0.3}
METHOD_NOTE = (
    "Daily uptime counts time in major outage as fully down and partial outage as 30% down; "
    "degraded performance and maintenance count as up. Days are UTC days."
)
STATUS_ORDER = list(ComponentStatus.values)


@dataclass(frozen=True)
class Span:
    """A stretch of time a component held one status."""

    start: datetime
    end: datetime
    status: str


@dataclass(frozen=True)
class Day:
    """One UTC day of a component: how long it was known, how long down (weighted), its worst status."""

    day: date
    known: float  # seconds of the day with a recorded status
    down: float  # weighted seconds down
    worst: str | None

    @property
    def uptime(self) -> float | None:
        """Return the up share as a percentage, or None when nothing is known of the day."""
        return None if self.known <= 0 else 100 * (1 - self.down / self.known)

    @property
    def level(self) -> str:
        """Return the colour class of the day's bar: its worst status, or `nodata`."""
        return "nodata" if self.worst is None else self.worst

    @property
    def label(self) -> str:
        """Return the day as text: date, uptime and worst status (the bar's colour, said in words)."""
        when = f"{self.day.day} {self.day:%b %Y}"
        if self.uptime is None:
            return f"{when}: no data"
        worst = "no downtime" if self.worst == ComponentStatus.OPERATIONAL else ComponentStatus(self.worst).label
        return f"{when}: {percent(self.uptime)} uptime, {worst.lower()}"


def spans(*, initial: str, changes: Sequence[tuple[datetime, str]], start: datetime, end: datetime) -> list[Span]:
    """Cut [start, end) into the statuses held, from the status at `start` and the changes (at, status) after it."""
    result, status, since = [], initial, start
    for at, new in sorted(changes):
        at = min(max(at, start), end)
        if at > since:
            result.append(Span(since, at, status))
        status, since = new, max(since, at)
    if end > since:
        result.append(Span(since, end, status))
    return result


def day_of(history: Sequence[Span], day: date) -> Day:
    """Sum one UTC day of a history: known and weighted-down seconds, and the worst status held."""
    day_start = datetime.combine(day, time.min, tzinfo=UTC)
    day_end = day_start + timedelta(days=1)
    known = down = 0.0
    worst: str | None = None
    for span in history:
        overlap = (min(span.end, day_end) - max(span.start, day_start)).total_seconds()
        if overlap <= 0:
            continue
        known += overlap
        down += overlap * DOWN_WEIGHT.get(span.status, 0.0)
        worst = span.status if worst is None else max(worst, span.status, key=STATUS_ORDER.index)
    return Day(day, known, down, worst)


def daily(
    *, initial: str, changes: Sequence[tuple[datetime, str]], since: datetime, now: datetime, days: int = WINDOW_DAYS
) -> list[Day]:
    """Return the last `days` UTC days up to today, oldest first, from a history known from `since` to `now`."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = max(since, datetime.combine(first, time.min, tzinfo=UTC))
    history = spans(initial=initial, changes=changes, start=start, end=now) if start < now else []
    return [day_of(history, first + timedelta(days=offset)) for offset in range(days)]


def overall(days: Sequence[Day]) -> float | None:
    """Return the uptime percentage over all the known time of `days` (None when nothing is known)."""
    known = sum(day.known for day in days)
    return None if known <= 0 else 100 * (1 - sum(day.down for day in days) / known)


def percent(value: float | None) -> str:
    """Format an uptime percentage with up to two decimals, rounded down so an outage never shows as 100%."""
    if value is None:
        return "no data"
    # Rounded to 6 places first, so float noise (92.4999999) does not floor a whole step down.
    floored = Decimal(f"{value:.6f}").quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    return f"{floored.normalize():f}%"
