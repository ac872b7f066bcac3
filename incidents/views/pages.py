"""The incident pages: the filtered list, declaring, the detail page (composer, timeline) and its live parts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from console.permissions import Capability, can, capability_required
from incidents import services, timeline
from incidents.forms import (
    ComposerForm,
    DeclareForm,
    IncidentFilterForm,
    RoleForm,
    SeverityForm,
    StartedAtForm,
    add_service_errors,
    offered_moves,
)
from incidents.markdown import render as render_markdown
from incidents.models import (
    IMPACT_OF_STATUS,
    AffectedComponent,
    ComponentStatus,
    Incident,
    IncidentUpdate,
    UpdateTemplate,
)
from incidents.views import get_incident_for

PAGE_SIZE = 25
CLOSED = (Incident.Status.RESOLVED, Incident.Status.POSTMORTEM)
# Timeline kinds that change what the updates and summary show: the live page re-fetches those parts.
REFRESHING_KINDS = ("update", "note", "status_changed", "component_changed", "severity_changed", "role_changed",
                    "published", "started_changed", "visibility_changed")  # fmt: skip
RANK = {status: number for number, status in enumerate(ComponentStatus.values)}


def human(delta: timedelta | None) -> str:
    """Write a duration the way the console does: "42 s", "3 min 12 s", "2 h 5 min", "1 d 4 h"."""
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def figures(incident: Incident) -> dict[str, str]:
    """The incident's computed durations: how long it has lasted, MTTA (detect to ack) and MTTR (start to resolve)."""
    duration = (incident.resolved_at or timezone.now()) - incident.started_at
    return {
        "duration": human(duration),
        "mtta": human(incident.time_to_acknowledge()),
        "mttm": human(incident.time_to_mitigate()),
        "mttr": human(incident.time_to_resolve()),
    }


# -- the list ---------------------------------------------------------------------------------------


def with_worst_rank(incidents: QuerySet) -> QuerySet:
    """Annotate each incident with its worst affected component's rank (the impact is derived from it)."""
    ranked = AffectedComponent.objects.filter(incident=OuterRef("pk")).annotate(
        rank=Case(
            *(When(status=status, then=Value(rank)) for status, rank in RANK.items()), output_field=IntegerField()
        )
    )
    return incidents.annotate(worst_rank=Subquery(ranked.order_by("-rank").values("rank")[:1]))


def impact_is(impact: str) -> Q:
    """Incidents whose impact (the override, else derived from the components) is `impact`."""
    ranks = [RANK[status] for status, derived in IMPACT_OF_STATUS.items() if derived == impact]
    derived = Q(worst_rank__in=ranks)
    if impact == Incident.Impact.NONE:
        derived |= Q(worst_rank=None)
    return Q(impact_override=impact) | (Q(impact_override="") & derived)


def filtered(data: dict[str, Any]) -> QuerySet:
    """The incidents the list's filters select, newest first."""
    found = Incident.objects.select_related("commander").prefetch_related("affected")
    if data.get("status") == "open":
        found = found.exclude(status__in=CLOSED)
    elif data.get("status") == "resolved":
        found = found.filter(status__in=CLOSED)
    exact = {name: data.get(name) for name in ("severity", "visibility")}
    found = found.filter(**{name: value for name, value in exact.items() if value})
    if data.get("impact"):
        found = with_worst_rank(found).filter(impact_is(data["impact"]))
    if data.get("component"):
        found = found.filter(affected__component=data["component"])  # one row per component: no duplicates
    if data.get("draft"):
        found = found.filter(draft=data["draft"] == "yes")
    if data.get("q"):
        found = found.filter(Q(title__icontains=data["q"]) | Q(code__icontains=data["q"]))
    if data.get("since"):
        found = found.filter(started_at__date__gte=data["since"])
    if data.get("until"):
        found = found.filter(started_at__date__lte=data["until"])
    return found


@capability_required(Capability.VIEW_CONSOLE)
def incident_list(request: HttpRequest) -> HttpResponse:
    """List incidents with filters, newest first, a page at a time."""
    form = IncidentFilterForm(request.GET or None)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    page = Paginator(filtered(data), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"incident": incident, **figures(incident)} for incident in page]
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "rows": rows, "query": query.urlencode(),
               "can_declare": can(request.user, Capability.MANAGE_INCIDENTS)}  # fmt: skip
    return render(request, "incidents/list.html", context, status=200 if valid or not form.is_bound else 400)


# -- declaring --------------------------------------------------------------------------------------


@capability_required(Capability.MANAGE_INCIDENTS)
def declare(request: HttpRequest) -> HttpResponse:
    """Declare an incident (commanders): title, severity, visibility, components, first update, start."""
    form = DeclareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.declare_incident(
                title=form.cleaned_data["title"], by=request.user, severity=form.cleaned_data["severity"],
                visibility=form.cleaned_data["visibility"], components=form.chosen_components(),
                message=form.cleaned_data["message"], started_at=form.cleaned_data["started_at"],
            )  # fmt: skip
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{incident.code} declared.")
            return redirect("incidents:detail", code=incident.code)
    status = 400 if form.is_bound else 200
    return render(request, "incidents/declare.html", {"form": form}, status=status)


# -- the detail page --------------------------------------------------------------------------------


def templates_for(incident: Incident) -> list[dict[str, Any]]:
    """Every update template, filled in for this incident (the composer's select and its script use them).

    A template for any status gets one text per status the composer offers, so its {status}
    says the move chosen; `body` is the text for the template's own status (or the current one).
    """
    offered = [incident.status, *sorted(offered_moves(incident))]
    filled = []
    for template in UpdateTemplate.objects.all():
        statuses = [template.status] if template.status else offered
        bodies = {status: services.fill_template(template=template, incident=incident, status=status)
                  for status in statuses}  # fmt: skip
        filled.append({"id": template.pk, "name": template.name, "status": template.status,
                       "body": bodies[statuses[0]], "bodies": bodies})  # fmt: skip
    return filled


def composer_initial(request: HttpRequest, incident: Incident, templates: list[dict[str, Any]]) -> dict[str, Any]:
    """Without JavaScript, ?template=<id> fills the composer (and picks the template's status if it is a move)."""
    chosen = next((t for t in templates if str(t["id"]) == request.GET.get("template")), None)
    if chosen is None:
        return {}
    initial = {"body": chosen["body"], "kind": "update"}
    if chosen["status"] in offered_moves(incident):
        initial["status"] = chosen["status"]
    return initial


def postmortem_link(incident: Incident) -> str | None:
    """The incident's post-mortem page, once one exists (None before, or while post-mortems are being built)."""
    try:
        incident.postmortem  # noqa: B018 (the reverse one-to-one raises when there is none)
    except (ObjectDoesNotExist, AttributeError):  # none yet, or the post-mortem model is not installed
        return None
    try:
        return reverse("postmortems:detail", args=[incident.code])
    except NoReverseMatch:
        return None


STATUS_LABELS = dict(ComponentStatus.choices)


def shown_update(update: IncidentUpdate) -> dict[str, Any]:
    """An update or note with its component changes in words ("Major outage", not "major_outage")."""
    changes = [
        {"component": change.get("component", ""), "previous": STATUS_LABELS.get(change.get("previous"), "—"),
         "status": STATUS_LABELS.get(change.get("status"), change.get("status", ""))}
        for change in update.component_changes or []
    ]  # fmt: skip
    return {"update": update, "changes": changes}


def live_context(incident: Incident) -> dict[str, Any]:
    """What the summary and updates parts show; the live page re-fetches them (`updates_fragment`)."""
    affected = incident.affected.select_related("component__group").order_by(
        "component__group__position", "component__position", "component__name"
    )
    return {
        "incident": incident,
        "affected": list(affected),
        "updates": [shown_update(update) for update in incident.updates.select_related("author")],
        "figures": figures(incident),
        "times": [
            ("Started", incident.started_at),
            ("Detected", incident.detected_at),
            ("Acknowledged", incident.acknowledged_at),
            ("Mitigated", incident.mitigated_at),
            ("Resolved", incident.resolved_at),
        ],
    }


def kind_label(kind: str) -> str:
    return kind.replace("_", " ")


def timeline_context(request: HttpRequest, incident: Incident) -> dict[str, Any]:
    """The timeline, oldest first, only of one kind with ?kind= (the page's script filters without reloading)."""
    kinds = sorted(set(incident.timeline.values_list("kind", flat=True)))
    kind = request.GET.get("kind", "")
    entries = incident.timeline.filter(kind=kind) if kind else incident.timeline.all()
    return {
        "entries": [{"entry": entry, "label": kind_label(entry.kind)} for entry in entries],
        "kinds": [(name, kind_label(name)) for name in kinds],
        "kind": kind,
    }


def script_config(incident: Incident, templates: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """What incident.js and incident-composer.js start from (handed over with `json_script`)."""
    return {
        "code": incident.code,
        "socket": f"/ws/incidents/{incident.code}/",
        "fragment": reverse("incidents:updates_fragment", args=[incident.code]),
        "preview": reverse("api-markdown-preview"),
        "timeline": reverse("api-incident-timeline", args=[incident.code]),
        "status": incident.status,
        "templates": templates,
        "refreshing": REFRESHING_KINDS,
        "kind": kind,
    }


def role_forms(incident: Incident, bound: RoleForm | None) -> list[RoleForm]:
    """One form per role, at its current holder; a form coming back with errors takes its role's place."""
    shown = [RoleForm.for_holder(incident, role) for role in services.ROLES]
    if bound is not None:
        roles = list(services.ROLES)
        shown[roles.index(bound.data.get("role")) if bound.data.get("role") in roles else 0] = bound
    return shown


def detail_context(request: HttpRequest, incident: Incident, forms: dict[str, Any]) -> dict[str, Any]:
    """Everything the detail page shows; `forms` holds bound forms coming back with errors."""
    user, templates, timeline_part = request.user, templates_for(incident), timeline_context(request, incident)
    composer = forms.get("composer") or ComposerForm(
        incident=incident, initial=composer_initial(request, incident, templates)
    )
    return {
        **live_context(incident),
        **timeline_part,
        "can_post": can(user, Capability.POST_UPDATES),
        "can_manage": can(user, Capability.MANAGE_INCIDENTS),
        "can_postmortem": can(user, Capability.RUN_POSTMORTEMS),
        "composer": composer,
        "severity_form": forms.get("severity") or SeverityForm(initial={"severity": incident.severity}),
        "role_forms": role_forms(incident, forms.get("role")),
        "started_form": forms.get("started") or StartedAtForm(initial={"started_at": incident.started_at}),
        "templates": templates,
        "template_id": request.GET.get("template", ""),
        "preview": render_markdown(composer.data.get("body", "")) if forms.get("preview") else None,
        "postmortem_url": postmortem_link(incident),
        "config": script_config(incident, templates, timeline_part["kind"]),
    }


def render_detail(request: HttpRequest, incident: Incident, *, status: int = 200, **forms: Any) -> HttpResponse:
    """Render the detail page; actions call this with their bound form to show its errors (or a preview)."""
    return render(request, "incidents/detail.html", detail_context(request, incident, forms), status=status)


@capability_required(Capability.VIEW_CONSOLE)
def detail(request: HttpRequest, code: str) -> HttpResponse:
    """Show one incident: status, roles, figures, components, updates and notes, composer and timeline."""
    return render_detail(request, get_incident_for(request.user, code))


@capability_required(Capability.VIEW_CONSOLE)
def updates_fragment(request: HttpRequest, code: str) -> HttpResponse:
    """The detail page's summary and updates alone: the live page swaps them in when the timeline moves."""
    incident = get_incident_for(request.user, code)
    return render(request, "incidents/includes/live_parts.html", live_context(incident))


@capability_required(Capability.VIEW_CONSOLE)
def timeline_markdown(request: HttpRequest, code: str) -> HttpResponse:
    """The incident's timeline as a Markdown file, for post-mortems and hand-offs."""
    incident = get_incident_for(request.user, code)
    response = HttpResponse(timeline.as_markdown(incident), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{incident.code}-timeline.md"'
    return response
