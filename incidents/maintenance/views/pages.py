"""The maintenance pages: the list (upcoming and active first, then past), scheduling a window, and one window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from console.permissions import Capability, can, capability_required
from incidents.maintenance import services
from incidents.maintenance.forms import (
    CancelForm,
    CompleteForm,
    ExtendForm,
    FilterForm,
    RescheduleForm,
    ScheduleForm,
    StartForm,
    add_errors,
)
from incidents.maintenance.models import MaintenanceWindow, MarketAction
from incidents.maintenance.views import get_window_for
from incidents.markdown import render as render_markdown

Status = MaintenanceWindow.Status
PAST = (Status.COMPLETED, Status.CANCELLED)
PAGE_SIZE = 25


# -- the list ---------------------------------------------------------------------------------------


def with_rows(windows: QuerySet[MaintenanceWindow]) -> QuerySet[MaintenanceWindow]:
    """Load what a row shows: components, and only the markets the window drives (not those it leaves trading)."""
    driven = MarketAction.objects.exclude(action=MarketAction.Action.NONE).select_related("market")
    return windows.prefetch_related("components", Prefetch("market_actions", queryset=driven, to_attr="driven"))


def open_windows() -> QuerySet[MaintenanceWindow]:
    """Windows in progress or verifying first, then the scheduled ones, soonest first."""
    active_first = Case(When(status__in=MaintenanceWindow.ACTIVE, then=Value(0)), default=Value(1),
                        output_field=IntegerField())  # fmt: skip
    found = MaintenanceWindow.objects.filter(status__in=MaintenanceWindow.OPEN).annotate(active_first=active_first)
    return with_rows(found.order_by("active_first", "scheduled_for", "id"))


def past_windows() -> QuerySet[MaintenanceWindow]:
    return with_rows(MaintenanceWindow.objects.filter(status__in=PAST).order_by("-scheduled_for", "-id"))


def listed(status: str) -> tuple[QuerySet | None, QuerySet | None]:
    """The upcoming-and-active and the past windows the filter asks for (None: that part is filtered out)."""
    if status == "open":
        return open_windows(), None
    if status == "past":
        return None, past_windows()
    if status in MaintenanceWindow.OPEN:
        return open_windows().filter(status=status), None
    if status in PAST:
        return None, past_windows().filter(status=status)
    return open_windows(), past_windows()


@capability_required(Capability.VIEW_CONSOLE)
def window_list(request: HttpRequest) -> HttpResponse:
    """List upcoming and active windows, then past ones a page at a time; filter by status with ?status=."""
    form = FilterForm(request.GET)
    valid = form.is_valid()
    status = form.cleaned_data["status"] if valid else ""
    upcoming, past = listed(status)
    context = {
        "form": form,
        "status": status,
        "upcoming": upcoming,
        "past": Paginator(past, PAGE_SIZE).get_page(request.GET.get("page")) if past is not None else None,
        "can_schedule": can(request.user, Capability.SCHEDULE_MAINTENANCE),
    }
    return render(request, "maintenance/list.html", context, status=200 if valid else 400)


# -- scheduling -------------------------------------------------------------------------------------


def default_times() -> dict[str, Any]:
    """Tomorrow at the next full hour, for an hour: a start far enough ahead for the first notices."""
    start = (timezone.now() + timedelta(days=1, hours=1)).replace(minute=0, second=0, microsecond=0)
    return {"scheduled_for": start, "scheduled_until": start + timedelta(hours=1)}


def warnings_for(form: ScheduleForm) -> list[str]:
    data = form.cleaned_data
    return services.capacity_warnings(scheduled_for=data["scheduled_for"], scheduled_until=data["scheduled_until"],
                                      actions=form.driven())  # fmt: skip


def passes_checks(form: ScheduleForm) -> bool:
    """Run the services' checks that scheduling would (times, notices, overlaps) so a refusal shows before a warning."""
    data = form.cleaned_data
    try:
        services.check_times(data["scheduled_for"], data["scheduled_until"], now=timezone.now())
        services.clean_notice_hours(data["notice_hours"])
        services.check_overlap(scheduled_for=data["scheduled_for"], scheduled_until=data["scheduled_until"],
                               components=list(data["components"]), markets=list(form.driven()))  # fmt: skip
    except ValidationError as error:
        add_errors(form, error)
        return False
    return True


def render_schedule(request: HttpRequest, form: ScheduleForm, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {"form": form, "warnings": [], "preview": None, **extra}
    return render(request, "maintenance/schedule.html", context, status=status)


@capability_required(Capability.SCHEDULE_MAINTENANCE)
def schedule(request: HttpRequest) -> HttpResponse:
    """Schedule a window (commanders); halting a market in the week's busiest hour needs "Schedule anyway"."""
    form = ScheduleForm(request.POST if request.method == "POST" else None, initial=default_times())
    if request.method != "POST":
        return render_schedule(request, form)
    if request.POST.get("action") == "preview":
        return render_schedule(request, form, preview=render_markdown(request.POST.get("description", "")))
    if not form.is_valid():
        return render_schedule(request, form, status=400)
    warnings = warnings_for(form)
    if warnings and not form.cleaned_data["confirm"]:
        # Not refused, only to be confirmed: the same form again with the warning and the checkbox.
        return render_schedule(request, form, warnings=warnings, status=200 if passes_checks(form) else 400)
    try:
        window = services.schedule_window(by=request.user, **form.schedule_arguments())
    except ValidationError as error:
        add_errors(form, error)
        return render_schedule(request, form, warnings=warnings, status=400)
    messages.success(request, f"{window.code} scheduled for {services.span(window)}; subscribers are told.")
    return redirect("maintenance:detail", code=window.code)


# -- one window -------------------------------------------------------------------------------------


def offered(window: MaintenanceWindow) -> dict[str, bool]:
    """The moves the window's status allows (the page shows their forms to commanders)."""
    return {
        "start": window.status == Status.SCHEDULED,
        "reschedule": window.status == Status.SCHEDULED,
        "extend": window.status in MaintenanceWindow.OPEN,
        "end": window.status == Status.IN_PROGRESS,
        "complete": window.status == Status.VERIFYING,
        "cancel": window.status == Status.SCHEDULED,
    }


def action_forms(window: MaintenanceWindow, bound: dict[str, forms.Form]) -> dict[str, forms.Form]:
    """Each action's form, the bound one coming back with errors when there is one."""
    return {
        "start_form": bound.get("start") or StartForm(auto_id="start-%s"),
        "reschedule_form": bound.get("reschedule") or RescheduleForm.for_window(window),
        "extend_form": bound.get("extend") or ExtendForm.for_window(window),
        "end_form": bound.get("end") or StartForm(auto_id="end-%s"),
        "complete_form": bound.get("complete") or CompleteForm(auto_id="complete-%s"),
        "cancel_form": bound.get("cancel") or CancelForm(auto_id="cancel-%s"),
    }


def times(window: MaintenanceWindow) -> list[tuple[str, Any]]:
    return [
        ("Scheduled start", window.scheduled_for), ("Scheduled end", window.scheduled_until),
        ("Started", window.started_at), ("Work ended", window.ended_at), ("Completed", window.completed_at),
        ("Cancelled", window.cancelled_at),
    ]  # fmt: skip


def log_rows(window: MaintenanceWindow) -> list[dict[str, Any]]:
    """The internal log, oldest first, each entry with its kind in words."""
    return [{"event": event, "label": event.kind.replace("_", " ")} for event in window.events.select_related("actor")]


def detail_context(request: HttpRequest, window: MaintenanceWindow, bound: dict[str, forms.Form]) -> dict[str, Any]:
    return {
        "window": window,
        "times": times(window),
        "components": window.components.select_related("group"),
        "actions": window.market_actions.select_related("market"),
        "updates": window.updates.select_related("author"),
        "events": log_rows(window),
        "notices": window.notices.all(),
        "can_change": can(request.user, Capability.SCHEDULE_MAINTENANCE),
        "offered": offered(window),
        # A refused move that names no field of its form (the window moved on meanwhile): said at the top.
        "refusals": [error for form in bound.values() for error in form.non_field_errors()],
        **action_forms(window, bound),
    }


def render_detail(
    request: HttpRequest, window: MaintenanceWindow, bound: dict[str, forms.Form] | None = None, *, status: int = 200
) -> HttpResponse:
    """Render the detail page; actions call this with their bound form to show its errors."""
    return render(request, "maintenance/detail.html", detail_context(request, window, bound or {}), status=status)


@capability_required(Capability.VIEW_CONSOLE)
def detail(request: HttpRequest, code: str) -> HttpResponse:
    """Show one window: facts, engine actions, public updates, the internal log; commanders get its actions."""
    return render_detail(request, get_window_for(request.user, code))
