"""Engine events onto the timelines of the incidents they happened during.

The engine knows nothing of incidents (it must keep running when this app is broken), so the
copying runs here, with the alert rules, every few seconds: each engine event between an
incident's start and its resolution lands once on the timeline of every incident it concerns,
at the time it happened. An event about one market (a mode change) concerns the incidents on
that market's components; an event about the engine process (a crash, a restart) concerns
every incident on any component linked to a market of that shard.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from engine.models import EngineEvent
from incidents import timeline
from incidents.models import Incident, TimelineEntry

KIND = "engine_event"
# Events still reach an incident resolved this recently: the last crash before the fix may be
# copied after a commander resolved it.
LATE_ARRIVALS = timedelta(minutes=2)


def record_engine_events(*, now: datetime | None = None) -> int:
    """Copy new engine events onto the timelines of the incidents they concern; return how many entries."""
    now = now or timezone.now()
    incidents = _incidents_in_window(now)
    if not incidents:
        return 0
    since = min(incident.started_at for incident in incidents)
    events = list(EngineEvent.objects.filter(at__gte=since, at__lte=now).order_by("at", "id"))
    written = 0
    for incident in incidents:
        written += _copy(incident, [event for event in events if _concerns(event, incident)])
    return written


def _incidents_in_window(now: datetime) -> list[Incident]:
    recent = Incident.objects.exclude(resolved_at__lt=now - LATE_ARRIVALS).exclude(status=Incident.Status.POSTMORTEM)
    found = recent.filter(affected__component__market__isnull=False).distinct()
    return list(found.prefetch_related("affected__component__market"))


def _concerns(event: EngineEvent, incident: Incident) -> bool:
    if event.at < incident.started_at or (incident.resolved_at is not None and event.at > incident.resolved_at):
        return False
    markets = [affected.component.market for affected in incident.affected.all() if affected.component.market]
    symbol = event.detail.get("symbol") if isinstance(event.detail, dict) else None
    if symbol:
        return any(market.symbol == symbol for market in markets)
    return any(market.shard == event.shard for market in markets)


@transaction.atomic
def _copy(incident: Incident, events: list[EngineEvent]) -> int:
    if not events:
        return 0
    copied = set(
        TimelineEntry.objects.filter(incident=incident, kind=KIND).values_list("detail__engine_event", flat=True)
    )
    fresh = [event for event in events if event.pk not in copied]
    for event in fresh:
        timeline.log(incident=incident, kind=KIND, at=event.at, summary=f"engine {event.kind}: {event.message}",
                     detail={"engine_event": event.pk, "engine_kind": event.kind, "shard": event.shard,
                             "severity": event.severity})  # fmt: skip
    return len(fresh)
