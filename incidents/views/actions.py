"""What people do on an incident's page: small POST views that call `incidents.services` and redirect.

A refused change (a `ValidationError` from the services: an illegal status move, an empty
body) comes back as the page with the form's errors and a 400; a missing right is a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.permissions import Capability, capability_required
from incidents import services
from incidents.forms import ComposerForm, RoleForm, SeverityForm, StartedAtForm, add_service_errors
from incidents.models import Incident
from incidents.views import get_incident_for
from incidents.views.pages import render_detail


def back_to(incident: Incident, anchor: str = "") -> HttpResponse:
    return redirect(reverse("incidents:detail", args=[incident.code]) + (f"#{anchor}" if anchor else ""))


def publish(form: ComposerForm, incident: Incident, by: Any) -> str:
    """Post what the composer holds, all or nothing; return what was done, for the page's message."""
    body = form.cleaned_data["body"]
    with transaction.atomic():
        if form.cleaned_data["kind"] == "note":
            services.add_note(incident=incident, body=body, by=by)
            return "Internal note added."
        for name, value in form.changes().items():
            change = services.change_severity if name == "severity" else services.change_visibility
            change(incident=incident, to=value, by=by)
        services.post_update(
            incident=incident, body=body, by=by, status=form.cleaned_data["status"] or None,
            components=form.chosen_components() or None,
        )  # fmt: skip
    return "Update published."


@capability_required(Capability.POST_UPDATES)
@require_POST
def post_update(request: HttpRequest, code: str) -> HttpResponse:
    """Publish a public update or add an internal note; "Preview" shows the rendered body and keeps the form."""
    incident = get_incident_for(request.user, code, needs=Capability.POST_UPDATES)
    form = ComposerForm(request.POST, incident=incident)
    if request.POST.get("action") == "preview":
        return render_detail(request, incident, composer=form, preview=True)
    if form.is_valid():
        try:
            done = publish(form, incident, request.user)
        except ValidationError as error:
            add_service_errors(form, error)
            incident.refresh_from_db()  # the transaction was rolled back; so are the instance's fields
        else:
            messages.success(request, done)
            return back_to(incident, "updates")
    return render_detail(request, incident, composer=form, status=400)


@capability_required(Capability.MANAGE_INCIDENTS)
@require_POST
def publish_draft(request: HttpRequest, code: str) -> HttpResponse:
    """Publish a draft an alert rule opened: from then on customers see it (if it is public)."""
    incident = get_incident_for(request.user, code, needs=Capability.MANAGE_INCIDENTS)
    try:
        services.publish_draft(incident=incident, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{incident.code} published.")
    return back_to(incident)


@capability_required(Capability.MANAGE_INCIDENTS)
@require_POST
def change_severity(request: HttpRequest, code: str) -> HttpResponse:
    """Change the internal severity (SEV1-SEV4)."""
    incident = get_incident_for(request.user, code, needs=Capability.MANAGE_INCIDENTS)
    form = SeverityForm(request.POST)
    if form.is_valid():
        try:
            services.change_severity(incident=incident, to=form.cleaned_data["severity"], by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Severity set to {incident.get_severity_display()}.")
            return back_to(incident)
    return render_detail(request, incident, severity=form, status=400)


@capability_required(Capability.MANAGE_INCIDENTS)
@require_POST
def assign_role(request: HttpRequest, code: str) -> HttpResponse:
    """Give the commander or communications lead role to someone, or to nobody."""
    incident = get_incident_for(request.user, code, needs=Capability.MANAGE_INCIDENTS)
    form = RoleForm(request.POST, role=request.POST.get("role", ""))
    if form.is_valid():
        role, user = form.cleaned_data["role"], form.cleaned_data["user"]
        try:
            services.assign_role(incident=incident, role=role, user=user, by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{services.ROLES[role].capitalize()}: {user or 'nobody'}.")
            return back_to(incident)
    return render_detail(request, incident, role=form, status=400)


@capability_required(Capability.MANAGE_INCIDENTS)
@require_POST
def set_started_at(request: HttpRequest, code: str) -> HttpResponse:
    """Set when the impact began (back in time, when it is found to have started earlier)."""
    incident = get_incident_for(request.user, code, needs=Capability.MANAGE_INCIDENTS)
    form = StartedAtForm(request.POST)
    if form.is_valid():
        try:
            services.set_started_at(incident=incident, at=form.at(), by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
            incident.refresh_from_db()
        else:
            messages.success(request, "Start time changed.")
            return back_to(incident)
    return render_detail(request, incident, started=form, status=400)
