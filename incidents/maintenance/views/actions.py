"""What commanders do on a window's page: small POST views that call the maintenance services and redirect.

Each view needs the right to schedule maintenance (others get a 403, anonymous visitors the
login page). A refused move (`ValidationError`: the window moved on meanwhile, a time in the
past, an overlap, a missing reason) comes back as the page with the errors next to its form
and a 400. Moves that switch the engine may wait for it (up to 15 s when it does not answer);
what it refused is said on the page and retried by the scheduler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.permissions import Capability, capability_required
from incidents.maintenance import services
from incidents.maintenance.forms import CancelForm, CompleteForm, ExtendForm, RescheduleForm, StartForm, add_errors
from incidents.maintenance.models import MaintenanceWindow
from incidents.maintenance.views import get_window_for
from incidents.maintenance.views.pages import render_detail

Status = MaintenanceWindow.Status
SCHEDULES = Capability.SCHEDULE_MAINTENANCE


def back_to(window: MaintenanceWindow, anchor: str = "") -> HttpResponse:
    return redirect(reverse("maintenance:detail", args=[window.code]) + (f"#{anchor}" if anchor else ""))


def attempt(
    request: HttpRequest, window: MaintenanceWindow, form: forms.Form, run: Callable[[dict[str, Any]], Any], *,
    slot: str, done: Callable[[MaintenanceWindow], str],
) -> HttpResponse:  # fmt: skip
    """Run a service with the form's data: back to the page saying `done`, or the page again with the errors."""
    if form.is_valid():
        try:
            result = run(form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
            window.refresh_from_db()  # the service's transaction rolled back; the instance may not have
        else:
            result.refresh_from_db()
            messages.success(request, done(result))
            engine_refusals(request, result)
            return back_to(result)
    return render_detail(request, window, {slot: form}, status=400)


def engine_refusals(request: HttpRequest, window: MaintenanceWindow) -> None:
    """Say which markets the engine did not switch (the scheduler tries again; the page shows the error)."""
    refused = window.market_actions.exclude(last_error="").select_related("market")
    if refused:
        listed = "; ".join(f"{action.market}: {action.last_error}" for action in refused)
        messages.warning(request, f"The engine did not switch every market ({listed}). It is retried automatically.")


def window_for(request: HttpRequest, code: str) -> MaintenanceWindow:
    return get_window_for(request.user, code, needs=SCHEDULES)


@capability_required(SCHEDULES)
@require_POST
def start(request: HttpRequest, code: str) -> HttpResponse:
    """Start a scheduled window now, early or on time: components under maintenance, markets into their modes."""
    window = window_for(request, code)
    return attempt(
        request, window, StartForm(request.POST, auto_id="start-%s"), slot="start",
        run=lambda data: services.start_window(window=window, by=request.user, message=data["message"]),
        done=lambda found: f"{found.code} started.",
    )  # fmt: skip


@capability_required(SCHEDULES)
@require_POST
def reschedule(request: HttpRequest, code: str) -> HttpResponse:
    """Move a window that has not started; customers are told the new times."""
    window = window_for(request, code)
    return attempt(
        request, window, RescheduleForm.for_window(window, request.POST), slot="reschedule",
        run=lambda data: services.reschedule_window(
            window=window, by=request.user, scheduled_for=data["scheduled_for"],
            scheduled_until=data["scheduled_until"], message=data["message"],
        ),
        done=lambda found: f"{found.code} moved to {services.span(found)}.",
    )  # fmt: skip


@capability_required(SCHEDULES)
@require_POST
def extend(request: HttpRequest, code: str) -> HttpResponse:
    """Move the end later; a window verifying goes back to work."""
    window = window_for(request, code)
    return attempt(
        request, window, ExtendForm.for_window(window, request.POST), slot="extend",
        run=lambda data: services.extend_window(window=window, until=data["until"], by=request.user,
                                                message=data["message"]),
        done=lambda found: f"{found.code} now ends at {services.when(found.scheduled_until)}.",
    )  # fmt: skip


def ended(window: MaintenanceWindow) -> str:
    if window.status == Status.COMPLETED:
        return f"{window.code} ended and completed: engine health confirmed recovery."
    return f"{window.code} ended: verifying engine health; it completes once recovery is confirmed."


@capability_required(SCHEDULES)
@require_POST
def end(request: HttpRequest, code: str) -> HttpResponse:
    """End the work of a window in progress now: the engine goes back to its modes, then verification."""
    window = window_for(request, code)
    return attempt(
        request, window, StartForm(request.POST, auto_id="end-%s"), slot="end", done=ended,
        run=lambda data: services.end_window(window=window, by=request.user, message=data["message"]),
    )  # fmt: skip


@capability_required(SCHEDULES)
@require_POST
def complete(request: HttpRequest, code: str) -> HttpResponse:
    """Complete a verifying window now; while verification holds, a reason is required."""
    window = window_for(request, code)
    return attempt(
        request, window, CompleteForm(request.POST, auto_id="complete-%s"), slot="complete",
        run=lambda data: services.complete_window(window=window, by=request.user, reason=data["reason"],
                                                  message=data["message"]),
        done=lambda found: f"{found.code} completed." if found.status == Status.COMPLETED else ended(found),
    )  # fmt: skip


@capability_required(SCHEDULES)
@require_POST
def cancel(request: HttpRequest, code: str) -> HttpResponse:
    """Cancel a window that has not started; customers are told."""
    window = window_for(request, code)
    return attempt(
        request, window, CancelForm(request.POST, auto_id="cancel-%s"), slot="cancel",
        run=lambda data: services.cancel_window(window=window, by=request.user, reason=data["reason"],
                                                message=data["message"]),
        done=lambda found: f"{found.code} cancelled.",
    )  # fmt: skip
