"""What people do on a post-mortem's page: small POST views that call the post-mortem services and redirect.

Each view needs only a console role; the services decide who may do what (commanders write and
review, another commander approves, an action item's owner moves its status). A refused change
(`ValidationError`) comes back as the page with the errors next to its form and a 400; a missing
right (`PermissionDenied`) is a 403 saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.permissions import Capability, can, capability_required
from incidents.postmortems import services
from incidents.postmortems.forms import (
    ActionItemEditForm,
    ActionItemForm,
    ActionItemStatusForm,
    MarkdownForm,
    ReviewCommentForm,
    TimelineEntryForm,
    WindowForm,
    add_errors,
)
from incidents.postmortems.models import Postmortem
from incidents.postmortems.views import get_postmortem_for
from incidents.postmortems.views.pages import render_detail
from incidents.views import get_incident_for


def back_to(postmortem: Postmortem, anchor: str = "") -> HttpResponse:
    url = reverse("postmortems:detail", args=[postmortem.incident.code])
    return redirect(url + (f"#{anchor}" if anchor else ""))


def attempt(
    request: HttpRequest, postmortem: Postmortem, form: forms.Form, run: Callable[[dict[str, Any]], Any], *,
    slot: str, anchor: str, done: str | Callable[[Any], str],
) -> HttpResponse:  # fmt: skip
    """Run a service with the form's data: redirect to the page saying `done`, or show it again with the errors."""
    if form.is_valid():
        try:
            result = run(form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
            postmortem.refresh_from_db()  # the service's transaction rolled back; the instance may not have
        else:
            messages.success(request, done if isinstance(done, str) else done(result))
            return back_to(postmortem, anchor)
    return render_detail(request, postmortem, {slot: form}, status=400)


def step(request: HttpRequest, code: str, service: Callable[..., Any], done: str) -> HttpResponse:
    """Take a review step that needs no input (submit, approve, publish)."""
    postmortem = get_postmortem_for(request.user, code)
    return attempt(
        request, postmortem, forms.Form(request.POST), slot="workflow", anchor="review", done=done,
        run=lambda data: service(postmortem=postmortem, by=request.user),
    )  # fmt: skip


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def create(request: HttpRequest, code: str) -> HttpResponse:
    """Start the post-mortem of resolved incident `code` (the incident page's button posts here)."""
    incident = get_incident_for(request.user, code)
    try:
        postmortem = services.create_postmortem(incident=incident, by=request.user)
    except ValidationError as error:
        if Postmortem.objects.filter(incident=incident).exists():
            messages.info(request, f"{incident.code} already has a post-mortem.")
            return redirect("postmortems:detail", incident.code)
        messages.error(request, " ".join(error.messages))
        return redirect("incidents:detail", incident.code)
    messages.success(request, f"Post-mortem of {incident.code} started: its timeline is copied from the incident.")
    return back_to(postmortem)


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def submit(request: HttpRequest, code: str) -> HttpResponse:
    """Send the draft for review by another commander."""
    return step(request, code, services.submit_for_review, "Submitted for review.")


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def approve(request: HttpRequest, code: str) -> HttpResponse:
    """Approve the post-mortem in review (refused to its author)."""
    return step(request, code, services.approve, "Approved: it can be published.")


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def publish(request: HttpRequest, code: str) -> HttpResponse:
    """Publish the approved post-mortem: its public summary goes out and the incident moves to post-mortem."""
    return step(request, code, services.publish, "Published: the incident is now in post-mortem.")


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def request_changes(request: HttpRequest, code: str) -> HttpResponse:
    """Send the post-mortem back to draft with a comment saying what needs changing."""
    postmortem = get_postmortem_for(request.user, code)
    form = ReviewCommentForm(request.POST, auto_id="review-%s")
    return attempt(
        request, postmortem, form, slot="review", anchor="review", done="Sent back to draft with your comment.",
        run=lambda data: services.request_changes(postmortem=postmortem, comment=data["comment"], by=request.user),
    )  # fmt: skip


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def edit_section(request: HttpRequest, code: str, key: str) -> HttpResponse:
    """Save one section's Markdown."""
    postmortem = get_postmortem_for(request.user, code)
    section = get_object_or_404(postmortem.sections, key=key)
    form = MarkdownForm(request.POST, auto_id=f"section-{key}-%s")
    return attempt(
        request, postmortem, form, slot=f"section:{key}", anchor=f"section-{key}", done=f"{section.title} saved.",
        run=lambda data: services.edit_section(postmortem=postmortem, key=key, body=data["body"], by=request.user),
    )  # fmt: skip


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def public_summary(request: HttpRequest, code: str) -> HttpResponse:
    """Save the summary customers read once the post-mortem is published."""
    postmortem = get_postmortem_for(request.user, code)
    form = MarkdownForm(request.POST, auto_id="public-summary-%s")
    return attempt(
        request, postmortem, form, slot="summary", anchor="public-summary", done="Public summary saved.",
        run=lambda data: services.set_public_summary(postmortem=postmortem, body=data["body"], by=request.user),
    )  # fmt: skip


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def window(request: HttpRequest, code: str) -> HttpResponse:
    """Set the window the charts and engine figures cover."""
    postmortem = get_postmortem_for(request.user, code)
    form = WindowForm(request.POST, auto_id="window-%s")
    return attempt(
        request, postmortem, form, slot="window", anchor="charts", done="Window saved.",
        run=lambda data: services.set_window(
            postmortem=postmortem, start=data["window_start"], end=data["window_end"], by=request.user
        ),
    )  # fmt: skip


# -- the timeline copy ----------------------------------------------------------------------


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def add_timeline_entry(request: HttpRequest, code: str) -> HttpResponse:
    """Add a line to the post-mortem's timeline."""
    postmortem = get_postmortem_for(request.user, code)
    form = TimelineEntryForm(request.POST, auto_id="new-entry-%s")
    return attempt(
        request, postmortem, form, slot="timeline", anchor="timeline", done="Timeline entry added.",
        run=lambda data: services.add_timeline_entry(postmortem=postmortem, by=request.user, **data),
    )  # fmt: skip


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def edit_timeline_entry(request: HttpRequest, code: str, entry_id: int) -> HttpResponse:
    """Correct a line of the post-mortem's timeline."""
    postmortem = get_postmortem_for(request.user, code)
    entry = get_object_or_404(postmortem.timeline, pk=entry_id)
    form = TimelineEntryForm.for_entry(entry, request.POST)
    return attempt(
        request, postmortem, form, slot=f"entry:{entry.pk}", anchor=f"entry-{entry.pk}", done="Timeline entry saved.",
        run=lambda data: services.edit_timeline_entry(entry=entry, by=request.user, **data),
    )  # fmt: skip


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def remove_timeline_entry(request: HttpRequest, code: str, entry_id: int) -> HttpResponse:
    """Remove a line from the post-mortem's timeline (the incident's own timeline keeps it)."""
    postmortem = get_postmortem_for(request.user, code)
    entry = get_object_or_404(postmortem.timeline, pk=entry_id)
    return attempt(
        request, postmortem, forms.Form(request.POST), slot="timeline_action", anchor="timeline",
        done="Timeline entry removed.", run=lambda data: services.remove_timeline_entry(entry=entry, by=request.user),
    )  # fmt: skip


def copied(added: int) -> str:
    if not added:
        return "Nothing new on the incident's timeline."
    return f"{added} new {'entry' if added == 1 else 'entries'} copied from the incident's timeline."


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def refresh_timeline(request: HttpRequest, code: str) -> HttpResponse:
    """Copy what the incident's timeline gained since the post-mortem's copy was made."""
    postmortem = get_postmortem_for(request.user, code)
    return attempt(
        request, postmortem, forms.Form(request.POST), slot="timeline_action", anchor="timeline", done=copied,
        run=lambda data: services.refresh_timeline(postmortem=postmortem, by=request.user),
    )  # fmt: skip


# -- action items ---------------------------------------------------------------------------


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def add_action_item(request: HttpRequest, code: str) -> HttpResponse:
    """Add a follow-up with an owner, due date, priority and link."""
    postmortem = get_postmortem_for(request.user, code)
    form = ActionItemForm(request.POST, auto_id="new-item-%s")
    return attempt(
        request, postmortem, form, slot="new_item", anchor="action-items", done="Action item added.",
        run=lambda data: services.add_action_item(postmortem=postmortem, by=request.user, **data),
    )  # fmt: skip


@capability_required(Capability.VIEW_CONSOLE)
@require_POST
def update_action_item(request: HttpRequest, code: str, item_id: int) -> HttpResponse:
    """Change an action item: all of it as a commander, its status as its owner."""
    postmortem = get_postmortem_for(request.user, code)
    item = get_object_or_404(postmortem.action_items, pk=item_id)
    form_class = ActionItemEditForm if can(request.user, Capability.RUN_POSTMORTEMS) else ActionItemStatusForm
    form = form_class.for_item(item, request.POST)
    return attempt(
        request, postmortem, form, slot=f"item:{item.pk}", anchor=f"item-{item.pk}",
        done=f"Action item saved: {item.title}.",
        run=lambda data: services.update_action_item(item=item, by=request.user, **data),
    )  # fmt: skip
