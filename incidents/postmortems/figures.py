"""What a post-mortem computes rather than asks for: key figures, the health window, the Markdown export.

Engine figures are read from the stored series (`HealthMinute`, `EngineEvent`, `DrillResult`)
of the shards behind the incident's affected components: the shards of their markets, or
this installation's shard when none of them names a market.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Sum

from engine.health import history
from engine.models import DrillResult, EngineEvent, HealthMinute
from incidents.postmortems.models import Postmortem

# Charts show a little before and after the window, so its edges are visible.
CHART_PADDING = timedelta(minutes=5)
# Engine events that end a worker process: a restart follows, and with it a recovery from the journal.
FAILURES = (EngineEvent.Kind.CRASHED, EngineEvent.Kind.HUNG)


def shards(postmortem: Postmortem) -> list[str]:
    """The engine shards behind the incident's affected components (this installation's when none)."""
    found = postmortem.incident.components.exclude(market=None).values_list("market__shard", flat=True)
    return sorted(set(found)) or [settings.ENGINE_SHARD]


def key_figures(postmortem: Postmortem) -> dict[str, Any]:
    """Durations as timedeltas and engine counts as ints over the window; None where nothing says."""
    incident, names = postmortem.incident, shards(postmortem)
    start, end = postmortem.window_start, postmortem.window_end
    events = EngineEvent.objects.filter(shard__in=names, at__gte=start, at__lte=end)
    return {
        "duration": end - start,
        "time_to_detect": incident.detected_at - incident.started_at,
        "time_to_acknowledge": incident.time_to_acknowledge(),
        "time_to_mitigate": incident.time_to_mitigate(),
        "time_to_resolve": incident.time_to_resolve(),
        "orders_rejected": orders_rejected(names, start, end),
        "commands_lost": commands_lost(names, start, end),
        "engine_restarts": events.filter(kind=EngineEvent.Kind.RESTARTED).count(),
        "engine_events": events.count(),
        "shards": names,
    }


def orders_rejected(names: list[str], start: datetime, end: datetime) -> int | None:
    """Orders the engine rejected in the window, from the minute roll-ups; None when no minute was recorded."""
    # A minute row covers [minute, minute + 1 min): count every minute that overlaps the window.
    rows = HealthMinute.objects.filter(shard__in=names, minute__gt=start - timedelta(minutes=1), minute__lt=end)
    return rows.aggregate(total=Sum("rejected"))["total"]


def commands_lost(names: list[str], start: datetime, end: datetime) -> int | None:
    """Acknowledged commands missing after the recoveries in the window; None when no measurement covers them.

    A command is acknowledged only once journaled, so a recovery should lose none. Each worker
    measures it as it recovers: the acknowledgements on the event stream whose sequence is past
    the journal's end (`lost_acknowledged` in the `recovered` event). Every failure in the window
    is followed by a recovery; when one is missing (the window ends first) or predates that
    measurement, a recovery drill in the window (`DrillResult.rpo_orders`, which checks every
    acknowledgement it received) still answers; otherwise the loss is unknown. No failure: 0.
    """
    window = {"shard__in": names, "at__gte": start, "at__lte": end}
    failures = EngineEvent.objects.filter(kind__in=FAILURES, **window).count()
    measured = [
        event.detail.get("lost_acknowledged")
        for event in EngineEvent.objects.filter(kind=EngineEvent.Kind.RECOVERED, **window)
        if isinstance(event.detail, dict)
    ]
    known = [lost for lost in measured if lost is not None]
    if len(known) >= failures and known:
        return sum(known)
    drills = DrillResult.objects.filter(shard__in=names, at__gte=start, at__lte=end)
    if drills.exists():
        return drills.aggregate(total=Sum("rpo_orders"))["total"]
    return None if failures else 0


def health_window(postmortem: Postmortem, *, shard: str | None = None, redis_client: Any = None) -> dict:
    """The window's health (what `GET /api/v1/engine/health/` answers), padded a few minutes each side.

    Without a Redis client it comes from the minute roll-ups, which keep 90 days.
    """
    shard = shard or shards(postmortem)[0]
    since, until = postmortem.window_start - CHART_PADDING, postmortem.window_end + CHART_PADDING
    return history(shard, since, until, redis_client=redis_client)


# -- Markdown -------------------------------------------------------------------------------


def duration_text(delta: timedelta | None) -> str:
    """A duration as people write it: 1 h 05 min, 4 min 12 s, 35 s; an em dash when unknown."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    return f"{sign}{minutes} min {seconds:02d} s" if minutes else f"{sign}{seconds} s"


FIGURE_LABELS = {
    "duration": "Duration (window)",
    "time_to_detect": "Time to detect",
    "time_to_acknowledge": "Time to acknowledge",
    "time_to_mitigate": "Time to mitigate",
    "time_to_resolve": "Time to resolve",
    "orders_rejected": "Orders rejected",
    "commands_lost": "Commands lost",
    "engine_restarts": "Engine restarts",
    "engine_events": "Engine events",
}


DURATIONS = frozenset({"duration", "time_to_detect", "time_to_acknowledge", "time_to_mitigate", "time_to_resolve"})


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _figure_lines(figures: dict[str, Any]) -> list[str]:
    lines = ["| Figure | Value |", "|---|---|"]
    for key, label in FIGURE_LABELS.items():
        value = figures[key]
        shown = duration_text(value) if key in DURATIONS else ("unknown" if value is None else f"{value:,}")
        lines.append(f"| {label} | {shown} |")
    return lines


def _section_lines(postmortem: Postmortem) -> list[str]:
    lines = []
    for section in postmortem.sections_in_order():
        lines += [f"## {section.title}", "", section.body.strip() or "_Not written._", ""]
    return lines


def _timeline_lines(postmortem: Postmortem) -> list[str]:
    lines = ["## Timeline", ""]
    for entry in postmortem.timeline.all():
        who = f", {entry.actor_name}" if entry.actor_name else ""
        lines.append(f"- **{_utc(entry.at)} UTC** ({entry.kind}{who}): {entry.summary}")
    return [*lines, ""] if len(lines) > 2 else [*lines, "_No entries._", ""]


def _action_item_lines(postmortem: Postmortem) -> list[str]:
    lines = ["## Action items", ""]
    items = postmortem.action_items.select_related("owner")
    if not items:
        return [*lines, "_None._", ""]
    lines += ["| Action item | Owner | Due | Priority | Status |", "|---|---|---|---|---|"]
    for item in items:
        title = f"[{_cell(item.title)}]({item.link})" if item.link else _cell(item.title)
        owner = item.owner.get_username() if item.owner else "—"
        due = item.due_on.isoformat() if item.due_on else "—"
        lines.append(f"| {title} | {owner} | {due} | {item.get_priority_display()} | {item.get_status_display()} |")
    return [*lines, ""]


def as_markdown(postmortem: Postmortem) -> str:
    """The whole post-mortem as Markdown: heading, key figures, sections, timeline, action items."""
    incident = postmortem.incident
    lines = [
        f"# Post-mortem: {incident.code} {incident.title}", "",
        f"Status: {postmortem.get_status_display()}  ",
        f"Window: {_utc(postmortem.window_start)} to {_utc(postmortem.window_end)} UTC  ",
        f"Severity: {incident.get_severity_display()}", "",
        "## Key figures", "", *_figure_lines(key_figures(postmortem)), "",
    ]  # fmt: skip
    if postmortem.public_summary.strip():
        lines += ["## Public summary", "", postmortem.public_summary.strip(), ""]
    lines += [*_section_lines(postmortem), *_timeline_lines(postmortem), *_action_item_lines(postmortem)]
    return "\n".join(lines).rstrip() + "\n"
