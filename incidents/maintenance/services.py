"""What happens to maintenance windows: scheduling, the moves of their lifecycle, notices; all audited.

Every move is claimed with one conditional UPDATE (`_move`), so two beat nodes, or beat and a
commander at the same moment, cannot both start or complete a window. Moves that talk to the
engine do it after their transaction committed (a mode change waits for the engine's answer),
and what the engine answered is kept on the window's `MarketAction`s and its internal log.

Times come in as `now` so tests drive the schedule on a controlled clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from console import audit
from console.models import AuditEntry
from console.permissions import Capability, can
from incidents import publishing
from incidents.maintenance import engine_modes, health
from incidents.maintenance.models import (
    MaintenanceUpdate,
    MaintenanceWindow,
    MarketAction,
    Notice,
    WindowEvent,
)
from incidents.markdown import render
from incidents.models import Component, ComponentStatus
from incidents.services import person, set_component_status

Status = MaintenanceWindow.Status
Kind = MaintenanceUpdate.Kind
CONSOLE = AuditEntry.Source.CONSOLE
PAST_TOLERANCE = timedelta(minutes=1)  # a start typed for "now" is not "in the past"
MAX_NOTICE_HOURS = 24 * 30
# What customers are told when a person writes nothing (Statuspage's automatic messages, in our words).
DEFAULT_MESSAGES = {
    Kind.SCHEDULED: "Maintenance is scheduled from {start} to {end}.",
    Kind.RESCHEDULED: "The maintenance has been rescheduled: it now runs from {start} to {end}.",
    Kind.STARTED: "The scheduled maintenance is in progress. We will update you when it is complete.",
    Kind.EXTENDED: "The maintenance is taking longer than planned; it is now expected to end at {end}.",
    Kind.VERIFYING: "The maintenance work is done; we are verifying that everything works as it should.",
    Kind.COMPLETED: "The scheduled maintenance has been completed.",
    Kind.CANCELLED: "The scheduled maintenance has been cancelled.",
}


def _require(user: Any) -> None:
    if user is not None and not can(user, Capability.SCHEDULE_MAINTENANCE):  # None: the scheduler itself
        raise PermissionDenied("Your role may not schedule maintenance.")


def next_code(year: int) -> str:
    """The next reference code of `year`: MNT-2026-0007."""
    prefix = f"MNT-{year}-"
    last = MaintenanceWindow.objects.filter(code__startswith=prefix).aggregate(last=Max("code"))["last"]
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:04d}"


def when(moment: datetime) -> str:
    """A time as customers read it in messages: 2026-12-06 02:00 UTC."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def span(window: MaintenanceWindow) -> str:
    return f"{when(window.scheduled_for)} to {when(window.scheduled_until)}"


# -- checks -----------------------------------------------------------------------------------------


def check_times(scheduled_for: datetime | None, scheduled_until: datetime | None, *, now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    if scheduled_for is None:
        errors["scheduled_for"] = ["Say when the maintenance starts."]
    elif scheduled_for < now - PAST_TOLERANCE:
        errors["scheduled_for"] = [f"Maintenance cannot be scheduled in the past (it is {when(now)} now)."]
    if scheduled_until is None:
        errors["scheduled_until"] = ["Say when the maintenance ends."]
    elif scheduled_for is not None and scheduled_until <= scheduled_for:
        errors["scheduled_until"] = ["The maintenance must end after it starts."]
    if errors:
        raise ValidationError(errors)


def clean_notice_hours(hours: list[Any] | None) -> list[int]:
    """Return the advance notices as distinct whole hours, latest first; refuse anything else."""
    if hours is None:
        return list(MaintenanceWindow._meta.get_field("notice_hours").get_default())
    try:
        values = sorted({int(hour) for hour in hours}, reverse=True)
    except (TypeError, ValueError):
        raise ValidationError({"notice_hours": ["Give whole numbers of hours, like 72, 24, 1."]}) from None
    if any(hour < 1 or hour > MAX_NOTICE_HOURS for hour in values):
        raise ValidationError({"notice_hours": [f"Each notice is 1 to {MAX_NOTICE_HOURS} hours before the start."]})
    return values


def check_overlap(
    *, scheduled_for: datetime, scheduled_until: datetime, components: list[Component], markets: list[Any],
    excluding: MaintenanceWindow | None = None,
) -> None:  # fmt: skip
    """Refuse a window overlapping an open one on the same component or market, naming the other window."""
    overlapping = MaintenanceWindow.objects.filter(
        status__in=MaintenanceWindow.OPEN, scheduled_for__lt=scheduled_until, scheduled_until__gt=scheduled_for
    )
    if excluding is not None:
        overlapping = overlapping.exclude(pk=excluding.pk)
    shared = overlapping.filter(
        Q(components__in=components) | Q(market_actions__market__in=markets, market_actions__action__in=DRIVING)
    ).distinct()
    other = shared.order_by("scheduled_for").first()
    if other is None:
        return
    names = sorted(
        {c.name for c in other.components.all() if c in components}
        | {a.market.symbol for a in other.market_actions.select_related("market") if a.market in markets}
    )
    raise ValidationError({"scheduled_for": [
        f"Overlaps {other.code} “{other.title}” ({span(other)}) on {', '.join(names)}."
    ]})  # fmt: skip


DRIVING = [action for action in MarketAction.Action.values if action != MarketAction.Action.NONE]


def capacity_warnings(*, scheduled_for: datetime, scheduled_until: datetime, actions: dict[Any, str],
                      now: datetime | None = None) -> list[str]:  # fmt: skip
    """Warn when a window halts a market during the busiest hour of the last 7 days of recorded throughput."""
    halted = [market for market, action in actions.items() if action == MarketAction.Action.HALTED]
    warnings = []
    for shard in sorted({market.shard for market in halted}):
        busiest = health.busiest_hour(shard, now=now or timezone.now())
        if busiest is None or not health.covers_hour(scheduled_for, scheduled_until, busiest.hour):
            continue
        symbols = ", ".join(sorted(market.symbol for market in halted if market.shard == shard))
        warnings.append(
            f"This halts {symbols} during {busiest.hour:02d}:00-{(busiest.hour + 1) % 24:02d}:00 UTC, the busiest "
            f"hour of the last 7 days: {busiest.commands:,} orders on {busiest.day:%a %d %b} "
            f"({busiest.commands / 3600:,.0f}/s on average)."
        )
    return warnings


# -- scheduling -------------------------------------------------------------------------------------


@transaction.atomic
def schedule_window(
    *, title: str, scheduled_for: datetime, scheduled_until: datetime, components: list[Component], by: Any,
    description: str = "", actions: dict[Any, str] | None = None, auto_start: bool = True,
    auto_complete: bool = True, notice_hours: list[Any] | None = None, message: str = "",
    source: str = CONSOLE, now: datetime | None = None,
) -> MaintenanceWindow:  # fmt: skip
    """Schedule a window and tell subscribers; refuse the past, overlaps and windows without components."""
    _require(by)
    now = now or timezone.now()
    actions = dict(actions or {})
    _check_fields(title=title, components=components, actions=actions)
    check_times(scheduled_for, scheduled_until, now=now)
    hours = clean_notice_hours(notice_hours)
    driven = [market for market, action in actions.items() if action != MarketAction.Action.NONE]
    check_overlap(scheduled_for=scheduled_for, scheduled_until=scheduled_until, components=components,
                  markets=driven)  # fmt: skip
    window = MaintenanceWindow.objects.create(
        code=next_code(now.year), title=title.strip(), description=description, description_html=render(description),
        scheduled_for=scheduled_for, scheduled_until=scheduled_until, auto_start=auto_start,
        auto_complete=auto_complete, notice_hours=hours, created_by=person(by), created_at=now, updated_at=now,
        announced_at=now,
    )  # fmt: skip
    window.components.set(components)
    MarketAction.objects.bulk_create(
        [MarketAction(window=window, market=market, action=action) for market, action in actions.items()]
    )
    _log(window, "scheduled", f"scheduled for {span(window)}", by=by, at=now)
    audit.record(actor=by, action="maintenance.scheduled", target=window, source=source, after=_facts(window))
    _announce(window, Kind.SCHEDULED, message, by=by, at=now)
    return window


def _check_fields(*, title: str, components: list[Component], actions: dict[Any, str]) -> None:
    errors: dict[str, list[str]] = {}
    if not title.strip():
        errors["title"] = ["Give the maintenance a title customers understand."]
    if not components:
        errors["components"] = ["Choose the components the maintenance affects."]
    unknown = sorted({action for action in actions.values() if action not in MarketAction.Action.values})
    if unknown:
        errors["actions"] = [f"Unknown engine action {', '.join(unknown)}: one of {', '.join(MarketAction.Action)}."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def reschedule_window(
    *, window: MaintenanceWindow, by: Any, scheduled_for: datetime, scheduled_until: datetime,
    message: str = "", source: str = CONSOLE, now: datetime | None = None,
) -> MaintenanceWindow:  # fmt: skip
    """Move a window that has not started; subscribers are told, and advance notices count from the new start."""
    _require(by)
    now = now or timezone.now()
    window = _locked(window)
    if window.status != Status.SCHEDULED:
        raise ValidationError({"status": [f"Only a scheduled window can be moved; this one is {window.status}."]})
    check_times(scheduled_for, scheduled_until, now=now)
    driven = [action.market for action in window.market_actions.filter(action__in=DRIVING).select_related("market")]
    check_overlap(scheduled_for=scheduled_for, scheduled_until=scheduled_until,
                  components=list(window.components.all()), markets=driven, excluding=window)  # fmt: skip
    before = _facts(window)
    window.scheduled_for, window.scheduled_until = scheduled_for, scheduled_until
    window.announced_at = window.updated_at = now
    window.sequence += 1
    window.save(update_fields=["scheduled_for", "scheduled_until", "announced_at", "updated_at", "sequence"])
    _log(window, "rescheduled", f"moved to {span(window)}", by=by, at=now)
    audit.record(actor=by, action="maintenance.rescheduled", target=window, source=source, before=before,
                 after=_facts(window))  # fmt: skip
    _announce(window, Kind.RESCHEDULED, message, by=by, at=now)
    return window


# -- the lifecycle ----------------------------------------------------------------------------------


def start_window(
    *, window: MaintenanceWindow, by: Any = None, message: str = "", source: str = CONSOLE,
    now: datetime | None = None,
) -> MaintenanceWindow:  # fmt: skip
    """Start a scheduled window (on time by the scheduler, or early by a commander), then switch the engine."""
    _require(by)
    clock, now = now, now or timezone.now()
    with transaction.atomic():
        if not _move(window, Status.SCHEDULED, Status.IN_PROGRESS, started_at=now, updated_at=now):
            raise ValidationError(
                {"status": [f"{window.code} is {_status_of(window)}: only a scheduled window starts."]}
            )
        window.refresh_from_db()
        early = now < window.scheduled_for
        for component in window.components.all():
            set_component_status(component=component, status=ComponentStatus.UNDER_MAINTENANCE, by=by)
        _log(window, "started", "started early" if early else "started on schedule", by=by, at=now)
        audit.record(actor=by, action="maintenance.started", target=window, source=source,
                     before={"status": Status.SCHEDULED},
                     after={"status": Status.IN_PROGRESS, "early": early})  # fmt: skip
        _announce(window, Kind.STARTED, message, by=by, at=now)
    apply_engine_actions(window, by=by, now=clock)
    return window


def apply_engine_actions(window: MaintenanceWindow, *, by: Any = None, now: datetime | None = None) -> list[str]:
    """Switch each market the window drives into its mode (those not switched yet); return the errors."""
    reason = f"maintenance {window.code}: {window.title}"
    errors = []
    for action in window.market_actions.filter(action__in=DRIVING, applied_at=None).select_related("market"):
        outcome = engine_modes.switch(action.market, action.action, reason=reason, by=by)
        at = now or timezone.now()
        if outcome.ok:
            # Conditional: a second scheduler racing this one must not record "halted" as the mode before.
            MarketAction.objects.filter(pk=action.pk, applied_at=None).update(
                previous_mode=outcome.previous or "open", applied_at=at, last_error=""
            )
            _log(window, "engine_switched", f"{action.market}: {outcome.previous} -> {action.action}", by=by, at=at,
                 detail={"market": action.market.symbol, "previous": outcome.previous,
                         "mode": action.action})  # fmt: skip
        else:
            MarketAction.objects.filter(pk=action.pk).update(last_error=outcome.error[:300])
            _log(window, "engine_refused", f"{action.market}: not switched to {action.action}: {outcome.error}",
                 by=by, at=at, detail={"market": action.market.symbol, "error": outcome.error})  # fmt: skip
            errors.append(f"{action.market}: {outcome.error}")
    return errors


def restore_engine_modes(window: MaintenanceWindow, *, by: Any = None, now: datetime | None = None) -> list[str]:
    """Put each market the window switched back into the mode it had before; return the errors."""
    reason = f"maintenance {window.code} ended"
    errors = []
    for action in window.market_actions.filter(applied_at__isnull=False, restored_at=None).select_related("market"):
        outcome = engine_modes.switch(action.market, action.previous_mode or "open", reason=reason, by=by)
        at = now or timezone.now()
        if outcome.ok:
            MarketAction.objects.filter(pk=action.pk, restored_at=None).update(restored_at=at, last_error="")
            _log(window, "engine_restored", f"{action.market}: {outcome.previous} -> {action.previous_mode}", by=by,
                 at=at, detail={"market": action.market.symbol, "mode": action.previous_mode})  # fmt: skip
        else:
            MarketAction.objects.filter(pk=action.pk).update(last_error=outcome.error[:300])
            _log(window, "engine_refused", f"{action.market}: not restored to {action.previous_mode}: {outcome.error}",
                 by=by, at=at, detail={"market": action.market.symbol, "error": outcome.error})  # fmt: skip
            errors.append(f"{action.market}: {outcome.error}")
    return errors


def end_window(
    *, window: MaintenanceWindow, by: Any = None, message: str = "", source: str = CONSOLE,
    now: datetime | None = None,
) -> MaintenanceWindow:  # fmt: skip
    """End the work (at the scheduled end, or when a commander says so): verify, restoring the engine first."""
    _require(by)
    clock, now = now, now or timezone.now()
    with transaction.atomic():
        if not _move(window, Status.IN_PROGRESS, Status.VERIFYING, ended_at=now, updated_at=now):
            raise ValidationError(
                {"status": [f"{window.code} is {_status_of(window)}: only a window in progress ends."]}
            )
        window.refresh_from_db()
        _log(window, "verifying", "work ended; verifying engine health", by=by, at=now)
        audit.record(actor=by, action="maintenance.ended", target=window, source=source,
                     before={"status": Status.IN_PROGRESS}, after={"status": Status.VERIFYING})  # fmt: skip
        _announce(window, Kind.VERIFYING, message, by=by, at=now)
    restore_engine_modes(window, by=by, now=clock)
    return verify_window(window=window, now=clock)


def verify_window(*, window: MaintenanceWindow, now: datetime | None = None) -> MaintenanceWindow:
    """Complete a verifying window when engine health confirms recovery; else keep it, alerting once."""
    now = now or timezone.now()
    window.refresh_from_db()
    if window.status != Status.VERIFYING:
        return window
    restore_engine_modes(window, now=now)  # anything the engine refused at the end is tried again
    problems = health.problems(window, now=now)
    if not problems:
        return _complete(window, by=None, now=now, source=AuditEntry.Source.SYSTEM)
    if problems != window.verification_problems:
        MaintenanceWindow.objects.filter(pk=window.pk).update(verification_problems=problems)
        _log(window, "verification_held", "; ".join(problems), at=now, detail={"problems": problems})
    overdue = window.verification_alerted_at is None and now - (window.ended_at or now) >= health.VERIFY_GRACE
    # Claimed like a move: one alert however many schedulers see it.
    if overdue and MaintenanceWindow.objects.filter(pk=window.pk, verification_alerted_at=None).update(
        verification_alerted_at=now
    ):
        health.alert(window, problems)
        _log(window, "alert", f"verification holds: {'; '.join(problems)}", at=now)
    window.refresh_from_db()
    return window


def complete_window(
    *, window: MaintenanceWindow, by: Any, reason: str = "", message: str = "", source: str = CONSOLE,
    now: datetime | None = None,
) -> MaintenanceWindow:  # fmt: skip
    """A commander completes a window: from in progress it ends and verifies; from verifying it completes now."""
    _require(by)
    window.refresh_from_db()
    if window.status == Status.IN_PROGRESS:
        return end_window(window=window, by=by, message=message, source=source, now=now)
    if window.status != Status.VERIFYING:
        raise ValidationError({"status": [f"{window.code} is {window.status}: there is nothing to complete."]})
    problems = window.verification_problems
    if problems and not reason.strip():
        raise ValidationError({"reason": ["Engine health has not confirmed recovery: say why you complete anyway."]})
    return _complete(window, by=by, now=now or timezone.now(), source=source, reason=reason, message=message)


def _complete(window: MaintenanceWindow, *, by: Any, now: datetime, source: str, reason: str = "",
              message: str = "") -> MaintenanceWindow:  # fmt: skip
    with transaction.atomic():
        if not _move(window, Status.VERIFYING, Status.COMPLETED, completed_at=now, updated_at=now,
                     verification_problems=[]):  # fmt: skip
            window.refresh_from_db()
            return window
        window.refresh_from_db()
        for component in window.components.all():
            if component.status == ComponentStatus.UNDER_MAINTENANCE:
                set_component_status(component=component, status=ComponentStatus.OPERATIONAL, by=by)
        forced = by is not None and bool(reason)
        _log(window, "completed", f"completed by a commander: {reason}" if forced else "engine health confirmed",
             by=by, at=now)  # fmt: skip
        audit.record(actor=by, action="maintenance.completed", target=window, source=source,
                     before={"status": Status.VERIFYING},
                     after={"status": Status.COMPLETED, "reason": reason})  # fmt: skip
        _announce(window, Kind.COMPLETED, message, by=by, at=now)
    return window


def extend_window(
    *, window: MaintenanceWindow, until: datetime, by: Any, message: str = "", source: str = CONSOLE,
    now: datetime | None = None,
) -> MaintenanceWindow:  # fmt: skip
    """Move the end later; a window already verifying goes back to work (and the engine back to its modes)."""
    _require(by)
    now = now or timezone.now()
    with transaction.atomic():
        window = _locked(window)
        if window.status not in MaintenanceWindow.OPEN:
            raise ValidationError({"status": [f"{window.code} is {window.status}: it cannot be extended."]})
        if until <= max(now, window.scheduled_until):
            raise ValidationError({"scheduled_until": [
                f"Extend it past its current end ({when(window.scheduled_until)}) and past now."
            ]})  # fmt: skip
        driven = [a.market for a in window.market_actions.filter(action__in=DRIVING).select_related("market")]
        check_overlap(scheduled_for=window.scheduled_for, scheduled_until=until,
                      components=list(window.components.all()), markets=driven, excluding=window)  # fmt: skip
        before = _facts(window)
        resumed = window.status == Status.VERIFYING
        window.scheduled_until, window.updated_at = until, now
        window.sequence += 1
        fields = ["scheduled_until", "updated_at", "sequence"]
        if resumed:
            window.status, window.ended_at, window.verification_problems = Status.IN_PROGRESS, None, []
            window.verification_alerted_at = None
            fields += ["status", "ended_at", "verification_problems", "verification_alerted_at"]
            # The markets go back into their maintenance modes: the work resumes.
            window.market_actions.update(applied_at=None, restored_at=None)
        window.save(update_fields=fields)
        _log(window, "extended", f"extended to {when(until)}" + (", work resumed" if resumed else ""), by=by, at=now)
        audit.record(actor=by, action="maintenance.extended", target=window, source=source, before=before,
                     after=_facts(window))  # fmt: skip
        _announce(window, Kind.EXTENDED, message, by=by, at=now)
    if resumed:
        apply_engine_actions(window, by=by, now=now)
    return window


@transaction.atomic
def cancel_window(
    *, window: MaintenanceWindow, by: Any, reason: str = "", message: str = "", source: str = CONSOLE,
    now: datetime | None = None,
) -> MaintenanceWindow:  # fmt: skip
    """Cancel a window that has not started (one in progress is completed instead)."""
    _require(by)
    now = now or timezone.now()
    if not _move(window, Status.SCHEDULED, Status.CANCELLED, cancelled_at=now, updated_at=now):
        raise ValidationError({"status": [
            f"{window.code} is {_status_of(window)}: only a scheduled window can be cancelled (complete it instead)."
        ]})  # fmt: skip
    window.refresh_from_db()
    MaintenanceWindow.objects.filter(pk=window.pk).update(sequence=window.sequence + 1)
    window.refresh_from_db()
    _log(window, "cancelled", f"cancelled: {reason}" if reason else "cancelled", by=by, at=now)
    audit.record(actor=by, action="maintenance.cancelled", target=window, source=source,
                 before={"status": Status.SCHEDULED}, after={"status": Status.CANCELLED, "reason": reason})  # fmt: skip
    _announce(window, Kind.CANCELLED, message, by=by, at=now)
    return window


# -- the scheduler ----------------------------------------------------------------------------------


def tick(*, now: datetime | None = None) -> dict[str, list[str]]:
    """Do what is due (beat calls this every few seconds); return the codes acted on, by what was done.

    Safe to run on several nodes at once: every move and every notice is claimed in the database.
    """
    clock, now = now, now or timezone.now()  # each move reads the real clock itself unless one is given
    done: dict[str, list[str]] = {"noticed": [], "started": [], "ended": [], "completed": [], "retried": []}
    for window in MaintenanceWindow.objects.filter(status=Status.SCHEDULED, scheduled_for__gt=now):
        if send_due_notice(window, now=now):
            done["noticed"].append(window.code)
    for window in MaintenanceWindow.objects.filter(status=Status.SCHEDULED, auto_start=True, scheduled_for__lte=now):
        if _quietly(start_window, window=window, now=clock, source=AuditEntry.Source.SYSTEM):
            done["started"].append(window.code)
    for window in MaintenanceWindow.objects.filter(status=Status.IN_PROGRESS):
        if window.auto_complete and window.scheduled_until <= now:
            if _quietly(end_window, window=window, now=clock, source=AuditEntry.Source.SYSTEM):
                done["ended"].append(window.code)
                if refreshed(window).status == Status.COMPLETED:  # verified at once
                    done["completed"].append(window.code)
        elif window.market_actions.filter(action__in=DRIVING, applied_at=None).exists():
            apply_engine_actions(window, now=clock)  # the engine refused or was down at the start
            done["retried"].append(window.code)
    for window in MaintenanceWindow.objects.filter(status=Status.VERIFYING):
        if verify_window(window=window, now=clock).status == Status.COMPLETED:
            done["completed"].append(window.code)
    return done


def _quietly(move: Any, **kwargs: Any) -> bool:
    """Make a scheduled move; another node having made it first is no error."""
    try:
        move(**kwargs)
    except ValidationError:
        return False
    return True


def send_due_notice(window: MaintenanceWindow, *, now: datetime) -> Notice | None:
    """Send the advance notice due now, once; notices that came due together are recorded but not all sent.

    A notice is due from `hours_before` the start until the start, unless customers were told of
    this start after that moment (scheduling it already said it).
    """
    due = [hours for hours in window.notice_hours
           if window.announced_at < window.scheduled_for - timedelta(hours=hours) <= now]  # fmt: skip
    if not due:
        return None
    sent = set(Notice.objects.filter(window=window, scheduled_for=window.scheduled_for).values_list(
        "hours_before", flat=True))  # fmt: skip
    pending = sorted(set(due) - sent)
    if not pending:
        return None
    latest, older = pending[0], pending[1:]
    try:
        with transaction.atomic():
            Notice.objects.bulk_create([
                Notice(window=window, hours_before=hours, scheduled_for=window.scheduled_for, at=now, skipped=True)
                for hours in older
            ], ignore_conflicts=True)  # fmt: skip
            notice = Notice.objects.create(window=window, hours_before=latest, scheduled_for=window.scheduled_for,
                                           at=now)  # fmt: skip
            _log(window, "notice", f"{latest} h advance notice sent", at=now, detail={"hours_before": latest})
            publishing.changed("maintenance_reminder", maintenance_id=window.pk, notice_id=notice.pk)
    except IntegrityError:  # another scheduler sent it first
        return None
    return notice


# -- helpers ----------------------------------------------------------------------------------------


def _move(window: MaintenanceWindow, source: str, target: str, **fields: Any) -> bool:
    """Claim a move with one conditional UPDATE; False when the window was not in `source` any more."""
    return bool(MaintenanceWindow.objects.filter(pk=window.pk, status=source).update(status=target, **fields))


def refreshed(window: MaintenanceWindow) -> MaintenanceWindow:
    window.refresh_from_db()
    return window


def _status_of(window: MaintenanceWindow) -> str:
    return MaintenanceWindow.objects.filter(pk=window.pk).values_list("status", flat=True).first() or "gone"


def _locked(window: MaintenanceWindow) -> MaintenanceWindow:
    return MaintenanceWindow.objects.select_for_update().get(pk=window.pk)


def _facts(window: MaintenanceWindow) -> dict[str, Any]:
    return {
        "title": window.title, "status": window.status, "scheduled_for": window.scheduled_for.isoformat(),
        "scheduled_until": window.scheduled_until.isoformat(),
        "components": sorted(component.name for component in window.components.all()),
        "actions": {a.market.symbol: a.action for a in window.market_actions.select_related("market")},
        "auto_start": window.auto_start, "auto_complete": window.auto_complete, "notice_hours": window.notice_hours,
    }  # fmt: skip


def _log(window: MaintenanceWindow, kind: str, summary: str, *, by: Any = None, at: datetime | None = None,
         detail: dict | None = None) -> WindowEvent:  # fmt: skip
    return WindowEvent.objects.create(window=window, kind=kind, summary=summary[:300], detail=detail or {},
                                      actor=person(by), at=at or timezone.now())  # fmt: skip


def _announce(window: MaintenanceWindow, kind: str, message: str, *, by: Any, at: datetime) -> MaintenanceUpdate:
    """Post the public update of a move and tell the public side (export, subscribers) after commit."""
    body = message.strip() or DEFAULT_MESSAGES[kind].format(start=when(window.scheduled_for),
                                                            end=when(window.scheduled_until))  # fmt: skip
    update = MaintenanceUpdate.objects.create(window=window, kind=kind, status=window.status, at=at, body=body,
                                              body_html=render(body), author=person(by))  # fmt: skip
    publishing.changed(f"maintenance_{kind}", maintenance_id=window.pk, update_id=update.pk)
    return update


def create_demo_window(*, components: list[Component], now: datetime | None = None) -> MaintenanceWindow | None:
    """A fresh installation's example: a one-hour window two nights ahead, one market in cancel-only."""
    market_components = [component for component in components if component.market_id]
    if MaintenanceWindow.objects.exists() or not market_components:
        return None
    component = market_components[-1]
    now = now or timezone.now()
    start = (now + timedelta(days=2)).replace(hour=2, minute=0, second=0, microsecond=0)
    return schedule_window(
        title=f"{component.market} matching engine upgrade", scheduled_for=start,
        scheduled_until=start + timedelta(hours=1), components=[component], by=None,
        description=f"Orders on {component.market} can be cancelled but not placed during the upgrade.",
        actions={component.market: MarketAction.Action.CANCEL_ONLY}, source=AuditEntry.Source.SYSTEM, now=now,
    )  # fmt: skip
