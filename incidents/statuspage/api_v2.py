"""Statuspage-compatible JSON at /api/v2/: the documents, and the anonymous GET views serving them.

The documents (`summary()`, `components()`...) take the page's base URL, so the web views and
the static export build the same bytes. Views answer GET and HEAD only, to anyone (CORS open,
so widgets on other sites can read them), with an ETag and Last-Modified for cheap 304s.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.db.models import Min
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from incidents.maintenance.models import MaintenanceWindow
from incidents.models import Component, ComponentStatusChange, Incident
from incidents.statuspage import queries, shapes

Json = dict[str, Any]
RECENT_INCIDENTS = 50  # Statuspage's incidents.json lists the 50 most recent
UPCOMING = ("scheduled",)  # Statuspage: upcoming.json lists maintenance not yet started
ACTIVE = ("in_progress", "verifying")
MAX_AGE_SECONDS = 30  # thousands of readers during an outage; half a minute stale is acceptable


def page_updated_at() -> datetime:
    """Return when what customers can see last changed (the public pages' Last-Modified)."""
    return queries.version().last_modified


def _page(base_url: str) -> Json:
    return shapes.page(name=settings.STATUS_PAGE_NAME, base_url=base_url, updated_at=page_updated_at())


def _status() -> Json:
    overall = queries.overall_status()
    return shapes.status(indicator=overall.indicator, description=overall.description)


def _components() -> list[Json]:
    first_seen = ComponentStatusChange.objects.values_list("component").annotate(first=Min("at"))
    grouped = [(rows.group, rows.components) for rows in queries.components_by_group()]
    return shapes.components(grouped, created=dict(first_seen.values_list("component", "first")))


def _incidents(incidents: list[Incident], base_url: str) -> list[Json]:
    by_name = {component.name: component for component in Component.objects.all()}
    return [_incident(incident, base_url, by_name) for incident in incidents]


def _incident(incident: Incident, base_url: str, by_name: dict[str, Component]) -> Json:
    postmortem = queries.published_postmortem(incident)
    affected = [shapes.component(row.component, position=n) for n, row in enumerate(incident.affected.all(), start=1)]
    return shapes.incident(
        incident, updates=[item.update for item in queries.public_timeline(incident)], affected=affected,
        base_url=base_url, by_name=by_name, published_at=postmortem.published_at if postmortem else None,
    )  # fmt: skip


def _maintenances(windows: list[MaintenanceWindow], base_url: str) -> list[Json]:
    return [shapes.maintenance(window, updates=queries.window_updates(window), base_url=base_url) for window in windows]


def _open_maintenances(base_url: str, statuses: tuple[str, ...]) -> list[Json]:
    """Return the open windows in `statuses`: in progress and verifying first, then upcoming, soonest first."""
    return _maintenances([w for w in queries.scheduled_maintenance() if w.status in statuses], base_url)


def summary(base_url: str) -> Json:
    """Return summary.json: status, components, unresolved incidents, upcoming and active maintenance."""
    return {
        "page": _page(base_url),
        "components": _components(),
        "incidents": _incidents(list(queries.active_incidents()), base_url),
        "scheduled_maintenances": _open_maintenances(base_url, (*UPCOMING, *ACTIVE)),
        "status": _status(),
    }


def status(base_url: str) -> Json:
    """Return status.json: the overall indicator and its description."""
    return {"page": _page(base_url), "status": _status()}


def components(base_url: str) -> Json:
    """Return components.json: groups and components in page order."""
    return {"page": _page(base_url), "components": _components()}


def incidents(base_url: str) -> Json:
    """Return incidents.json: the 50 most recent public incidents, resolved ones too."""
    recent = list(queries.public_incidents()[:RECENT_INCIDENTS])
    return {"page": _page(base_url), "incidents": _incidents(recent, base_url)}


def unresolved_incidents(base_url: str) -> Json:
    """Return incidents/unresolved.json: incidents investigating, identified or monitoring."""
    return {"page": _page(base_url), "incidents": _incidents(list(queries.active_incidents()), base_url)}


def scheduled_maintenances(base_url: str, statuses: tuple[str, ...] = ()) -> Json:
    """Return scheduled-maintenances.json: the recent maintenance, or only the open windows in `statuses`."""
    if statuses:
        return {"page": _page(base_url), "scheduled_maintenances": _open_maintenances(base_url, statuses)}
    return {"page": _page(base_url), "scheduled_maintenances": _maintenances(queries.recent_maintenance(), base_url)}


# The documents by the path they are served under (and exported to), relative to /api/v2/.
DOCUMENTS: dict[str, Callable[[str], Json]] = {
    "summary.json": summary,
    "status.json": status,
    "components.json": components,
    "incidents.json": incidents,
    "incidents/unresolved.json": unresolved_incidents,
    "scheduled-maintenances.json": scheduled_maintenances,
    "scheduled-maintenances/upcoming.json": lambda base_url: scheduled_maintenances(base_url, UPCOMING),
    "scheduled-maintenances/active.json": lambda base_url: scheduled_maintenances(base_url, ACTIVE),
}


def encode(document: Json) -> bytes:
    """Return the document as the bytes served and exported (compact, UTF-8)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def base_url(request: HttpRequest) -> str:
    """Return the page's absolute URL without a trailing slash, as the client reached it."""
    return f"{request.scheme}://{request.get_host()}"


def public(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve GET and HEAD to anyone: CORS open, short public caching, and a 304 that builds nothing.

    The ETag and Last-Modified are the public pages' version (two aggregate queries), so a
    revalidating crowd during an outage costs no document build.
    """

    @require_safe
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        version = queries.version()
        etag, last_modified = f'"{version.etag}"', int(version.last_modified.timestamp())
        response = get_conditional_response(request, etag=etag, last_modified=last_modified)
        if response is None:
            response = view(request, *args, **kwargs)
        response["Access-Control-Allow-Origin"] = "*"  # status widgets run on other sites
        if response.status_code in (200, 304):
            response["ETag"], response["Last-Modified"] = etag, http_date(last_modified)
            patch_cache_control(response, public=True, max_age=MAX_AGE_SECONDS)
        return response

    return wrapped


def document_view(path: str) -> Callable[[HttpRequest], HttpResponse]:
    """Return the view serving DOCUMENTS[path]."""

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(encode(DOCUMENTS[path](base_url(request))), content_type="application/json")

    view.__name__ = view.__qualname__ = "api_v2_" + path.removesuffix(".json").replace("/", "_").replace("-", "_")
    return public(view)
