"""The public read model: the one place that decides what customers may see.

Every public output (these pages, the JSON, the feeds, the calendar, the static copy) reads through
here, so internal incidents, drafts and internal notes are filtered once. Maintenance windows are
all public, but only their public face is read here: the window and its `MaintenanceUpdate`s, never
its internal log (`WindowEvent`), engine actions, verification problems or who scheduled it.
Nothing here touches Redis, Celery or the engine (STYLE.md practice 9): only the database.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Case, F, Min, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents.maintenance.models import MaintenanceUpdate, MaintenanceWindow
from incidents.models import (
    IMPACT_OF_STATUS,
    AffectedComponent,
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
    Incident,
    IncidentUpdate,
    TimelineEntry,
)
from incidents.postmortems.models import Postmortem
from incidents.statuspage import uptime

CLOSED = (Incident.Status.RESOLVED, Incident.Status.POSTMORTEM)
IMPACT_ORDER = list(Incident.Impact.values)
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
}
MAINTENANCE_DESCRIPTION = "Service Under Maintenance"
# While anything is not operational the uptime of today drifts, so the page version moves on
# every few minutes; otherwise only at midnight (when the bars shift by a day).
DRIFT_BUCKET = timedelta(minutes=5)
PUBLISHED = Q(incident__postmortem__status=Postmortem.Status.PUBLISHED)
# Timeline entries that change nothing customers see: left out of the page version, so even the
# ETag does not tell when people write notes. Any other kind refreshes the page (the safe default).
INTERNAL_KINDS = Q(kind__in=["note", "severity_changed", "role_changed", "alert", "alert_resolved", "engine_event"])
INTERNAL_KINDS |= Q(kind__startswith="postmortem_")
# How far back the maintenance list of the JSON and the calendar reach (open windows always show),
# and how many windows scheduled-maintenances.json and the feeds list at most (Statuspage lists 50).
MAINTENANCE_DAYS = 90
RECENT_MAINTENANCE = 50
WindowStatus = MaintenanceWindow.Status


@dataclass(frozen=True)
class OverallStatus:
    """Statuspage's page indicator (`none|minor|major|critical`), its description, and a colour class."""

    indicator: str
    description: str
    level: str  # operational, maintenance, minor, major or critical: for styling only


@dataclass
class ComponentRow:
    """A component with its 90-day bars, as the page shows it."""

    component: Component
    days: list[uptime.Day]
    uptime: float | None

    @property
    def uptime_text(self) -> str:
        return uptime.percent(self.uptime)


@dataclass
class GroupRows:
    group: ComponentGroup | None
    components: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class TimelineItem:
    """A public update with the status it speaks for and the status move it made, if any."""

    update: IncidentUpdate
    label: str
    moved_from: str | None


@dataclass(frozen=True)
class Version:
    """What the public pages are a function of: their ETag and Last-Modified."""

    etag: str
    last_modified: datetime


def public_incidents() -> QuerySet[Incident]:
    """Return the incidents customers may see: public visibility, not a draft."""
    return Incident.objects.filter(visibility=Incident.Visibility.PUBLIC, draft=False)


def public_updates(incident: Incident) -> QuerySet[IncidentUpdate]:
    """Return the incident's public updates (never internal notes), newest first."""
    return incident.updates.filter(internal=False).order_by("-at", "-id")


def _for_display(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    public = IncidentUpdate.objects.filter(internal=False).order_by("-at", "-id")
    affected = AffectedComponent.objects.select_related("component").order_by("component__name")
    return incidents.prefetch_related(
        Prefetch("updates", queryset=public, to_attr="public_updates"),
        Prefetch("affected", queryset=affected),
    )


def active_incidents() -> QuerySet[Incident]:
    """Return the public incidents still open, newest first, with their public updates (`public_updates`)."""
    return _for_display(public_incidents().exclude(status__in=CLOSED)).order_by("-started_at", "-id")


def recent_incidents(days: int = 14, *, now: datetime | None = None) -> QuerySet[Incident]:
    """Return the public closed incidents that started in the last `days` UTC days, newest first."""
    first = _today(now) - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=UTC)
    closed = public_incidents().filter(status__in=CLOSED, started_at__gte=since)
    return _for_display(closed).order_by("-started_at", "-id")


def history_by_day(
    incidents: Iterable[Incident],
    windows: Iterable[MaintenanceWindow] = (),
    days: int = 14,
    *,
    now: datetime | None = None,
) -> list[tuple[date, list[Incident], list[MaintenanceWindow]]]:
    """Return (day, incidents, maintenance windows that started that day) for the last `days` UTC days, today first."""
    incidents_on, windows_on = defaultdict(list), defaultdict(list)
    for incident in incidents:
        incidents_on[incident.started_at.astimezone(UTC).date()].append(incident)
    for window in windows:
        windows_on[window.started_at.astimezone(UTC).date()].append(window)
    today = _today(now)
    return [
        (day, incidents_on[day], windows_on[day]) for day in (today - timedelta(days=offset) for offset in range(days))
    ]


def incidents_in_month(month: date) -> QuerySet[Incident]:
    """Return the public incidents that started in the UTC month of `month`, newest first."""
    start = datetime.combine(month.replace(day=1), time.min, tzinfo=UTC)
    end = datetime.combine(next_month(month), time.min, tzinfo=UTC)
    in_month = public_incidents().filter(started_at__gte=start, started_at__lt=end)
    return _for_display(in_month).order_by("-started_at", "-id")


def first_month() -> date | None:
    """Return the month of the oldest public incident or started maintenance (where the history ends), or None."""
    incident = public_incidents().aggregate(oldest=Min("started_at"))["oldest"]
    window = MaintenanceWindow.objects.aggregate(oldest=Min("started_at"))["oldest"]
    oldest = min([moment for moment in (incident, window) if moment is not None], default=None)
    return None if oldest is None else oldest.astimezone(UTC).date().replace(day=1)


def history_months(*, now: datetime | None = None) -> list[date]:
    """Return every month from the current one back to the oldest in the history (the history's pages)."""
    month, oldest = _today(now).replace(day=1), first_month()
    months = [month]
    while oldest is not None and month > oldest:
        month = previous_month(month)
        months.append(month)
    return months


def public_incident(code: str) -> Incident:
    """Return the public incident with this code, ready to display; raise Incident.DoesNotExist otherwise."""
    return _for_display(public_incidents()).get(code=code)


def public_timeline(incident: Incident) -> list[TimelineItem]:
    """Return the public updates newest first, each labelled with the status it was posted under."""
    items, status = [], Incident.Status.INVESTIGATING.value
    for update in sorted(_public_updates_of(incident), key=lambda update: (update.at, update.id)):
        moved_from = None
        if update.status and update.status != status:
            moved_from = update.previous_status or status
            status = update.status
        items.append(TimelineItem(update, Incident.Status(status).label, moved_from))
    return items[::-1]


def _public_updates_of(incident: Incident) -> list[IncidentUpdate]:
    prefetched = getattr(incident, "public_updates", None)  # set by _for_display; avoids a query per incident
    return list(prefetched) if prefetched is not None else list(public_updates(incident))


def published_postmortem(incident: Incident) -> Postmortem | None:
    """Return the incident's post-mortem if its public summary is published, else None."""
    return Postmortem.objects.filter(incident=incident, status=Postmortem.Status.PUBLISHED).first()


def _windows_for_display(windows: QuerySet[MaintenanceWindow]) -> QuerySet[MaintenanceWindow]:
    # Only the public face: the updates (newest first, as `public_updates`) and the components.
    updates = MaintenanceUpdate.objects.order_by("-at", "-id")
    return windows.prefetch_related(
        Prefetch("updates", queryset=updates, to_attr="public_updates"),
        Prefetch("components", queryset=Component.objects.order_by("name")),  # as an incident lists its own
    )


def scheduled_maintenance() -> list[MaintenanceWindow]:
    """Return the windows to show now: in progress or verifying first, then the scheduled ones, soonest first."""
    active_first = Case(When(status__in=MaintenanceWindow.ACTIVE, then=Value(0)), default=Value(1))
    windows = MaintenanceWindow.objects.filter(status__in=MaintenanceWindow.OPEN)
    return list(_windows_for_display(windows).order_by(active_first, "scheduled_for", "id"))


def completed_maintenance(days: int = 14, *, now: datetime | None = None) -> list[MaintenanceWindow]:
    """Return the completed windows that started in the last `days` UTC days, newest first (the home page's days)."""
    since = datetime.combine(_today(now) - timedelta(days=days - 1), time.min, tzinfo=UTC)
    windows = MaintenanceWindow.objects.filter(status=WindowStatus.COMPLETED, started_at__gte=since)
    return list(_windows_for_display(windows).order_by("-started_at", "-id"))


def maintenance_since(now: datetime | None = None) -> datetime:
    """Return where the recent maintenance starts: midnight UTC, MAINTENANCE_DAYS days ago."""
    return datetime.combine(_today(now) - timedelta(days=MAINTENANCE_DAYS), time.min, tzinfo=UTC)


def recent_maintenance(*, now: datetime | None = None) -> list[MaintenanceWindow]:
    """Return scheduled-maintenances.json's windows: open, or scheduled or completed in the last 90 days.

    Cancelled windows are left out, as Statuspage drops them; newest start first, at most 50.
    """
    since = maintenance_since(now)
    recent = Q(status__in=MaintenanceWindow.OPEN) | Q(scheduled_for__gte=since) | Q(completed_at__gte=since)
    windows = MaintenanceWindow.objects.filter(recent).exclude(status=WindowStatus.CANCELLED)
    return list(_windows_for_display(windows).order_by("-scheduled_for", "-id")[:RECENT_MAINTENANCE])


def calendar_maintenance(*, now: datetime | None = None) -> list[MaintenanceWindow]:
    """Return the calendar's windows: every one ending in the last 90 days or later, cancelled ones too, by start."""
    recent = Q(status__in=MaintenanceWindow.OPEN) | Q(scheduled_until__gte=maintenance_since(now))
    return list(_windows_for_display(MaintenanceWindow.objects.filter(recent)).order_by("scheduled_for", "id"))


def feed_maintenance() -> list[MaintenanceWindow]:
    """Return the most recently changed windows (cancelled ones too) with their updates, for the feeds."""
    return list(_windows_for_display(MaintenanceWindow.objects.order_by("-updated_at", "-id"))[:RECENT_MAINTENANCE])


def maintenance_in_month(month: date) -> list[MaintenanceWindow]:
    """Return the windows that started in the UTC month of `month`, newest first (cancelled ones never started)."""
    start = datetime.combine(month.replace(day=1), time.min, tzinfo=UTC)
    end = datetime.combine(next_month(month), time.min, tzinfo=UTC)
    windows = MaintenanceWindow.objects.filter(started_at__gte=start, started_at__lt=end)
    return list(_windows_for_display(windows).order_by("-started_at", "-id"))


def public_window(code: str) -> MaintenanceWindow:
    """Return the window with this code, ready to display (cancelled ones too); raise DoesNotExist otherwise."""
    return _windows_for_display(MaintenanceWindow.objects.all()).get(code=code)


def window_updates(window: MaintenanceWindow) -> list[MaintenanceUpdate]:
    """Return the window's public updates, newest first."""
    prefetched = getattr(window, "public_updates", None)  # set by _windows_for_display
    return list(prefetched) if prefetched is not None else list(window.updates.order_by("-at", "-id"))


def window_changed_at(window: MaintenanceWindow) -> datetime:
    """Return when anything customers see of the window last changed (its updated_at or its latest update)."""
    return max([window.updated_at, *(update.at for update in window_updates(window))])


def components_by_group() -> list[GroupRows]:
    """Return the components under their groups, in display order (ungrouped ones last, group None)."""
    groups: dict[int | None, GroupRows] = {group.pk: GroupRows(group) for group in ComponentGroup.objects.all()}
    ungrouped = GroupRows(None)
    for component in Component.objects.select_related("group"):
        groups.get(component.group_id, ungrouped).components.append(component)
    return [rows for rows in [*groups.values(), ungrouped] if rows.components]


def with_uptime(grouped: list[GroupRows], *, now: datetime | None = None) -> list[GroupRows]:
    """Return the same groups with each component as a ComponentRow carrying its 90-day bars."""
    now = now or timezone.now()
    components = [component for rows in grouped for component in rows.components]
    bars = uptime_bars(components, now=now)
    return [
        GroupRows(rows.group, [ComponentRow(c, bars[c.pk], uptime.overall(bars[c.pk])) for c in rows.components])
        for rows in grouped
    ]


def uptime_bars(components: list[Component], *, now: datetime) -> dict[int, list[uptime.Day]]:
    """Return each component's last 90 UTC days (see `uptime`), from two queries for all of them."""
    window_start = datetime.combine(_today(now) - timedelta(days=uptime.WINDOW_DAYS - 1), time.min, tzinfo=UTC)
    ids = [component.pk for component in components]
    firsts = dict(
        ComponentStatusChange.objects.filter(component__in=ids)
        .values_list("component").annotate(first=Min("at")).values_list("component", "first")
    )  # fmt: skip
    changes = defaultdict(list)
    for change in ComponentStatusChange.objects.filter(component__in=ids, at__gte=window_start):
        changes[change.component_id].append(change)
    return {c.pk: _days_of(c, changes[c.pk], firsts.get(c.pk), now) for c in components}


def _days_of(component: Component, changes: list, first_change: datetime | None, now: datetime) -> list[uptime.Day]:
    # The status held at the window's start is what its first change in the window moved away from.
    initial = changes[0].previous if changes else component.status
    # History starts when the component was made (or at a change recorded before that: imported history).
    since = min(first_change, component.created_at) if first_change else component.created_at
    pairs = [(change.at, change.status) for change in changes]
    return uptime.daily(initial=initial, changes=pairs, since=since, now=now)


def overall_status(components: list[Component] | None = None, incidents: list[Incident] | None = None) -> OverallStatus:
    """Roll up the page indicator as Statuspage does: the worst of component statuses and open incidents' impacts."""
    # A degraded component or minor incident is `minor`, a partial outage or major incident `major`,
    # a major outage or critical incident `critical`. Maintenance with nothing worse keeps `none`
    # (the enum has no `maintenance` indicator) but says "Service Under Maintenance".
    components = list(Component.objects.all()) if components is None else components
    incidents = list(active_incidents()) if incidents is None else incidents
    statuses = [component.status for component in components]
    impacts = [IMPACT_OF_STATUS[ComponentStatus.worst(statuses)], *(incident.impact for incident in incidents)]
    indicator = max(impacts, key=IMPACT_ORDER.index)
    # Maintenance in progress shows as components under maintenance (what issue 8's windows set).
    if indicator == Incident.Impact.NONE and ComponentStatus.UNDER_MAINTENANCE in statuses:
        return OverallStatus("none", MAINTENANCE_DESCRIPTION, "maintenance")
    return OverallStatus(str(indicator), DESCRIPTIONS[indicator], "operational" if indicator == "none" else indicator)


def version(*, now: datetime | None = None) -> Version:
    """Return the public pages' ETag and Last-Modified from one aggregate query (no page is built)."""
    # Every public change writes a timeline entry on a public incident (the one timeline writer),
    # moves a component's `updated_at`, or moves a maintenance window (every move sets its
    # `updated_at` and posts a public update); counts catch removals, the windows' counts by status
    # their moves. The clock is part of it too: the bars shift at midnight (and the 90 days of
    # maintenance with them), and today's uptime drifts while anything is not operational.
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(*_version_sql())
        components, changed, down, entries, at, published, *maintenance = cursor.fetchone()
    changed, at, published = _as_datetime(changed), _as_datetime(at), _as_datetime(published)
    window_changed, update_at = _as_datetime(maintenance[1]), _as_datetime(maintenance[-1])
    clock = datetime.combine(_today(now), time.min, tzinfo=UTC)
    if down:
        clock = now - (now - clock) % DRIFT_BUCKET
    stamps = [stamp for stamp in (changed, at, published, window_changed, update_at, clock) if stamp is not None]
    key = repr((components, changed, entries, at, published, maintenance, clock))
    return Version(hashlib.blake2b(key.encode(), digest_size=12).hexdigest(), max(stamps).replace(microsecond=0))


@functools.cache
def _version_sql() -> tuple[str, tuple]:
    # Compiled once: building these aggregates with the ORM costs ~2 ms of Python per request,
    # most of a 304's cost; the filters still come from the querysets, so they cannot drift.
    not_operational = Case(When(~Q(status=ComponentStatus.OPERATIONAL), then=Value(1)))
    components = Component.objects.order_by().values(stamp=F("updated_at"), down=not_operational)
    published = Case(When(PUBLISHED, then=F("incident__postmortem__published_at")))
    # An incident made internal drops out of the public ones, but its visibility change must still
    # move Last-Modified: the page lost it.
    entries = (
        TimelineEntry.objects.filter(Q(incident__in=public_incidents()) | Q(kind="visibility_changed"))
        .exclude(INTERNAL_KINDS)
        .order_by()
        .values(stamp=F("at"), published=published)
    )
    # One column per status, counted: any move changes the counts (a window counts once).
    by_status = {f"s{number}": Case(When(status=status, then=Value(1))) for number, status in enumerate(WindowStatus)}
    windows = MaintenanceWindow.objects.order_by().values(stamp=F("updated_at"), **by_status)
    updates = MaintenanceUpdate.objects.order_by().values(stamp=F("at"))
    (c_sql, c_params), (e_sql, e_params) = components.query.sql_with_params(), entries.query.sql_with_params()
    (w_sql, w_params), (u_sql, u_params) = windows.query.sql_with_params(), updates.query.sql_with_params()
    counts = "".join(f", COUNT({name}) AS {name}" for name in by_status)
    columns = "".join(f", w.{name}" for name in by_status)
    # Only Django-compiled SQL and constant names go into the text; the parameters stay parameters.
    sql = (
        f"SELECT c.n, c.stamp, c.down, e.n, e.stamp, e.published, w.n, w.stamp{columns}, u.n, u.stamp FROM "  # noqa: S608
        f"(SELECT COUNT(*) AS n, MAX(stamp) AS stamp, COUNT(down) AS down FROM ({c_sql}) cs) c, "
        f"(SELECT COUNT(*) AS n, MAX(stamp) AS stamp, MAX(published) AS published FROM ({e_sql}) es) e, "
        f"(SELECT COUNT(*) AS n, MAX(stamp) AS stamp{counts} FROM ({w_sql}) ws) w, "
        f"(SELECT COUNT(*) AS n, MAX(stamp) AS stamp FROM ({u_sql}) us) u"
    )
    return sql, (*c_params, *e_params, *w_params, *u_params)


def _as_datetime(value: datetime | str | None) -> datetime | None:
    # A raw aggregate comes back as text from SQLite (as a datetime from PostgreSQL); both are UTC.
    parsed = parse_datetime(value) if isinstance(value, str) else value
    return parsed if parsed is None or timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def next_month(month: date) -> date:
    """Return the first day of the month after `month`."""
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def previous_month(month: date) -> date:
    """Return the first day of the month before `month`."""
    return (month.replace(day=1) - timedelta(days=1)).replace(day=1)


def _today(now: datetime | None) -> date:
    return (now or timezone.now()).astimezone(UTC).date()
