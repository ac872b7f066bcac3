"""Console pages: the audit log (the home page is the engine dashboard, `engine.views.dashboard`)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.models import AuditEntry
from console.permissions import Capability, capability_required

AUDIT_PAGE_SIZE = 50


@capability_required(Capability.VIEW_AUDIT_LOG)
def audit_log(request: HttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.select_related("actor")
    filters = {key: request.GET.get(key, "").strip() for key in ("actor", "action", "target_type")}
    if filters["actor"]:
        entries = entries.filter(actor_name=filters["actor"])
    if filters["action"]:
        entries = entries.filter(action=filters["action"])
    if filters["target_type"]:
        entries = entries.filter(target_type=filters["target_type"])
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "console/audit_log.html", {"page": page, "filters": filters})
