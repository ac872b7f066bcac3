"""The post-mortem pages: the list, one post-mortem (review, figures, charts, sections, timeline, action items),
its Markdown export, and every open action item across incidents.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode

from console.permissions import Capability, can, capability_required
from incidents.models import Incident
from incidents.postmortems import figures
from incidents.postmortems.forms import (
    ActionItemEditForm,
    ActionItemFilterForm,
    ActionItemForm,
    ActionItemStatusForm,
    MarkdownForm,
    PostmortemFilterForm,
    ReviewCommentForm,
    TimelineEntryForm,
    WindowForm,
)
from incidents.postmortems.models import ActionItem, Postmortem
from incidents.postmortems.views import get_postmortem_for

PAGE_SIZE = 50
AWAITING_SHOWN = 20
Status = Postmortem.Status
# The usual abbreviations, shown beside the figures' names.
ABBREVIATIONS = {"time_to_detect": "TTD", "time_to_acknowledge": "MTTA", "time_to_mitigate": "MTTM",
                 "time_to_resolve": "MTTR"}  # fmt: skip
AUTHOR_MAY_NOT_APPROVE = "You wrote this post-mortem: another commander must approve it."


# -- the list -------------------------------------------------------------------------------


def with_open_item_counts(postmortems: QuerySet[Postmortem]) -> QuerySet[Postmortem]:
    # An aggregate drops Meta.ordering, which the pager needs: say it again.
    return postmortems.annotate(
        open_items=Count("action_items", filter=Q(action_items__status__in=ActionItem.OPEN_STATUSES))
    ).order_by("-created_at", "-id")


@capability_required(Capability.VIEW_CONSOLE)
def postmortem_list(request: HttpRequest) -> HttpResponse:
    """List every post-mortem, newest first, by status with ?status=; and resolved incidents still without one."""
    form = PostmortemFilterForm(request.GET)
    postmortems = with_open_item_counts(Postmortem.objects.select_related("incident", "author"))
    status = form.cleaned_data["status"] if form.is_valid() else ""
    if status:
        postmortems = postmortems.filter(status=status)
    awaiting = Incident.objects.filter(status=Incident.Status.RESOLVED, postmortem__isnull=True)
    context = {
        "form": form,
        "status": status,
        "page": Paginator(postmortems, PAGE_SIZE).get_page(request.GET.get("page")),
        "awaiting": awaiting.order_by("-resolved_at")[:AWAITING_SHOWN],
        "can_create": can(request.user, Capability.RUN_POSTMORTEMS),
    }
    return render(request, "postmortems/list.html", context, status=200 if form.is_valid() else 400)


# -- one post-mortem ------------------------------------------------------------------------


def figure_rows(found: dict[str, Any]) -> list[dict[str, Any]]:
    """Format the key figures as the page shows them: durations in words, counts with separators."""
    rows = []
    for key, label in figures.FIGURE_LABELS.items():
        value = found[key]
        if key in figures.DURATIONS:
            shown = figures.duration_text(value)
        else:
            shown = "unknown" if value is None else f"{value:,}"
        # Acknowledged commands must never be lost: anything but a measured zero deserves a look.
        warn = key == "commands_lost" and value != 0
        rows.append({"key": key, "label": label, "short": ABBREVIATIONS.get(key, ""), "value": shown, "warn": warn})
    return rows


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def chart_config(postmortem: Postmortem, shards: list[str]) -> dict[str, Any]:
    """Return what postmortem.js draws: the window (padded like `figures.health_window`) and where to fetch it."""
    since = postmortem.window_start - figures.CHART_PADDING
    until = postmortem.window_end + figures.CHART_PADDING
    window = {"shard": shards[0], "since": utc_text(since), "until": utc_text(until)}
    return {
        "shard": shards[0],
        "since": since.astimezone(UTC).isoformat(),
        "until": until.astimezone(UTC).isoformat(),
        "urls": {"health": reverse("api-engine-health")},
        "history": f"{reverse('engine:history')}?{urlencode(window)}",
    }


def workflow(user: Any, postmortem: Postmortem) -> dict[str, Any]:
    """Return the review steps the user may take now, and why approval is refused to its author."""
    may_run, may_approve = can(user, Capability.RUN_POSTMORTEMS), can(user, Capability.APPROVE_POSTMORTEMS)
    in_review = postmortem.status == Status.IN_REVIEW
    is_author = postmortem.author_id is not None and postmortem.author_id == user.pk
    return {
        "can_submit": may_run and postmortem.status == Status.DRAFT,
        "can_request_changes": may_approve and postmortem.status in (Status.IN_REVIEW, Status.APPROVED),
        "can_approve": may_approve and in_review and not is_author,
        "approve_refusal": AUTHOR_MAY_NOT_APPROVE if may_approve and in_review and is_author else "",
        "can_publish": may_run and postmortem.status == Status.APPROVED,
    }


def review_steps(postmortem: Postmortem) -> list[dict[str, Any]]:
    """Return draft, in review, approved, published: which are behind, which is now, when each was reached."""
    reached = Status.values.index(postmortem.status)
    times = (postmortem.created_at, postmortem.submitted_at, postmortem.approved_at, postmortem.published_at)
    return [
        {
            "label": label,
            "at": at if number <= reached else None,
            "done": number < reached,
            "current": number == reached,
        }
        for number, (label, at) in enumerate(zip(Status.labels, times, strict=True))
    ]


def section_rows(postmortem: Postmortem, bound: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for section in postmortem.sections_in_order():
        form = bound.get(f"section:{section.key}") or MarkdownForm(
            initial={"body": section.body}, auto_id=f"section-{section.key}-%s"
        )
        rows.append({"section": section, "form": form})
    return rows


def timeline_rows(postmortem: Postmortem, bound: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"entry": entry, "form": bound.get(f"entry:{entry.pk}") or TimelineEntryForm.for_entry(entry)}
        for entry in postmortem.timeline.all()
    ]


def item_form(user: Any, item: ActionItem) -> forms.Form | None:
    """Return the form the user may change the item with: all of it for commanders, its status for its owner."""
    if can(user, Capability.RUN_POSTMORTEMS):
        return ActionItemEditForm.for_item(item)
    if item.owner_id is not None and item.owner_id == user.pk:
        return ActionItemStatusForm.for_item(item)
    return None


def item_rows(user: Any, postmortem: Postmortem, bound: dict[str, Any]) -> list[dict[str, Any]]:
    today = timezone.localdate()
    return [
        {"item": item, "overdue": item.is_overdue(today), "form": bound.get(f"item:{item.pk}") or item_form(user, item)}
        for item in postmortem.action_items.select_related("owner")
    ]


def edit_forms(postmortem: Postmortem, bound: dict[str, Any]) -> dict[str, Any]:
    """Return the page's single forms, each the bound one coming back with errors when there is one."""
    window = {"window_start": postmortem.window_start, "window_end": postmortem.window_end}
    return {
        "summary_form": bound.get("summary") or MarkdownForm(
            initial={"body": postmortem.public_summary}, auto_id="public-summary-%s"
        ),
        "window_form": bound.get("window") or WindowForm(initial=window, auto_id="window-%s"),
        "timeline_form": bound.get("timeline") or TimelineEntryForm(
            initial={"at": timezone.now().replace(microsecond=0)}, auto_id="new-entry-%s"
        ),
        "item_add_form": bound.get("new_item") or ActionItemForm(auto_id="new-item-%s"),
        "review_form": bound.get("review") or ReviewCommentForm(auto_id="review-%s"),
        "workflow_errors": bound.get("workflow"),
        "timeline_errors": bound.get("timeline_action"),
    }  # fmt: skip


def detail_context(request: HttpRequest, postmortem: Postmortem, bound: dict[str, Any]) -> dict[str, Any]:
    """Gather everything the detail page shows; `bound` holds forms coming back with errors, by slot."""
    user, found = request.user, figures.key_figures(postmortem)
    items = item_rows(user, postmortem, bound)
    return {
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "figures": figure_rows(found),
        "shards": found["shards"],
        "workflow": workflow(user, postmortem),
        "steps": review_steps(postmortem),
        "may_edit": postmortem.is_editable() and can(user, Capability.RUN_POSTMORTEMS),
        "may_add_items": can(user, Capability.RUN_POSTMORTEMS),
        "sections": section_rows(postmortem, bound),
        "timeline": timeline_rows(postmortem, bound),
        "action_items": items,
        "open_items": sum(1 for row in items if row["item"].is_open()),
        "config": chart_config(postmortem, found["shards"]),
        **edit_forms(postmortem, bound),
    }


def render_detail(
    request: HttpRequest, postmortem: Postmortem, bound: dict[str, Any] | None = None, *, status: int = 200
) -> HttpResponse:
    """Render the detail page; actions call this with their bound form to show its errors."""
    context = detail_context(request, postmortem, bound or {})
    return render(request, "postmortems/detail.html", context, status=status)


@capability_required(Capability.VIEW_CONSOLE)
def detail(request: HttpRequest, code: str) -> HttpResponse:
    """Show the post-mortem of incident `code`, with the forms the user's role may use."""
    return render_detail(request, get_postmortem_for(request.user, code))


@capability_required(Capability.VIEW_CONSOLE)
def markdown(request: HttpRequest, code: str) -> HttpResponse:
    """Download the post-mortem as Markdown."""
    postmortem = get_postmortem_for(request.user, code)
    response = HttpResponse(figures.as_markdown(postmortem), content_type="text/markdown; charset=utf-8")
    filename = f"{postmortem.incident.code}-postmortem.md"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


# -- action items across incidents ----------------------------------------------------------


def filtered_items(form: ActionItemFilterForm, today: Any) -> QuerySet[ActionItem]:
    """Return the action items the filter asks for (open ones when it is empty or wrong)."""
    items = ActionItem.objects.select_related("owner", "postmortem__incident")
    if not form.is_valid():
        return items.filter(status__in=ActionItem.OPEN_STATUSES)
    items = items.filter(status__in=form.statuses())
    if form.cleaned_data["owner"] is not None:
        items = items.filter(owner=form.cleaned_data["owner"])
    if form.cleaned_data["overdue"]:
        items = items.filter(status__in=ActionItem.OPEN_STATUSES, due_on__lt=today)
    return items


@capability_required(Capability.VIEW_CONSOLE)
def action_items(request: HttpRequest) -> HttpResponse:
    """List the open action items of every post-mortem, overdue ones marked; filter by status, owner, overdue."""
    form, today = ActionItemFilterForm(request.GET), timezone.localdate()
    page = Paginator(filtered_items(form, today), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "rows": [{"item": item, "overdue": item.is_overdue(today)} for item in page],
        "query": filter_query(request),
    }
    return render(request, "postmortems/action_items.html", context, status=200 if form.is_valid() else 400)


def filter_query(request: HttpRequest) -> str:
    """Return the filters of this request as a query string, for the pager's links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
