"""The public status page: anonymous, GET only, cheap to revalidate, and working with Redis and the engine down.

Each page is a `render_*` function returning HTML with no request involved, so the static copy
(export) renders exactly what the app serves. The views add conditional GET on top: the ETag and
Last-Modified come from `queries.version()` (one aggregate query), so a 304 builds no page, and
a built page is kept in memory until the version moves on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template.loader import render_to_string
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition, require_safe

from incidents.maintenance.models import MaintenanceWindow
from incidents.models import Incident
from incidents.statuspage import context, queries

MAX_AGE = 10  # seconds: short, so a new update reaches readers fast, yet a crowd revalidates instead of re-reading
CODE_LENGTH = 20  # incident and maintenance codes: INC-2026-0042, MNT-2026-0007


def _impossible(code: str) -> bool:
    # A NUL makes PostgreSQL refuse the query (a 500); a longer code cannot exist. Neither needs a query.
    return "\x00" in code or len(code) > CODE_LENGTH


def render_status_page() -> str:
    """Render the home page: overall status, components with uptime bars, incidents, maintenance, recent history."""
    return render_to_string("statuspage/home.html", context.status_page_context())


def render_history(month: date | None = None) -> str:
    """Render one month of incident history (the current month when `month` is None)."""
    return render_to_string("statuspage/history.html", context.history_context(month))


def render_incident(code: str) -> str:
    """Render a public incident's page; raise Incident.DoesNotExist for internal, draft or unknown codes."""
    return render_to_string("statuspage/incident.html", context.incident_context(code))


def render_maintenance(code: str) -> str:
    """Render a maintenance window's page (cancelled ones too); raise MaintenanceWindow.DoesNotExist otherwise."""
    return render_to_string("statuspage/maintenance.html", context.maintenance_context(code))


def render_not_found() -> str:
    """Render the public 'not found' page."""
    return render_to_string("statuspage/not_found.html", {"links": context.LINKS})


@functools.lru_cache(maxsize=64)
def _cached(page: str, argument: str | None, etag: str) -> str:
    # Keyed by the version's ETag: any public change (or the clock moving the bars) makes a new key.
    if page == "home":
        return render_status_page()
    if page == "history":
        return render_history(None if argument is None else context.parse_month(argument))
    if page == "maintenance":
        return render_maintenance(str(argument))
    return render_incident(str(argument))


def _version(request: HttpRequest) -> queries.Version:
    # `condition` asks for the ETag and Last-Modified separately: compute them once per request.
    if not hasattr(request, "status_version"):
        request.status_version = queries.version()
    return request.status_version


def _etag(request: HttpRequest, *args: object, **kwargs: object) -> str:
    return _version(request).etag


def _last_modified(request: HttpRequest, *args: object, **kwargs: object) -> datetime:
    return _version(request).last_modified


def public_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Make a view public and cacheable: GET/HEAD only, conditional GET, short public caching."""
    conditional = condition(etag_func=_etag, last_modified_func=_last_modified)(view)
    return require_safe(cache_control(public=True, max_age=MAX_AGE)(conditional))


@public_page
def home(request: HttpRequest) -> HttpResponse:
    """Show the current status of every component and any open incident."""
    return HttpResponse(_cached("home", None, _version(request).etag))


@public_page
def history(request: HttpRequest) -> HttpResponse:
    """Show the public incidents of one month (`?month=YYYY-MM`, the current one by default)."""
    month = request.GET.get("month")
    if month is not None:
        try:
            context.parse_month(month)
        except ValueError:
            return HttpResponseNotFound(render_not_found())
    return HttpResponse(_cached("history", month, _version(request).etag))


@public_page
def incident(request: HttpRequest, code: str) -> HttpResponse:
    """Show a public incident's full timeline; internal, draft and unknown incidents are not found."""
    if _impossible(code):
        return HttpResponseNotFound(render_not_found())
    try:
        return HttpResponse(_cached("incident", code, _version(request).etag))
    except Incident.DoesNotExist:
        return HttpResponseNotFound(render_not_found())


@public_page
def maintenance(request: HttpRequest, code: str) -> HttpResponse:
    """Show a maintenance window with all its public updates; unknown codes are not found."""
    if _impossible(code):
        return HttpResponseNotFound(render_not_found())
    try:
        return HttpResponse(_cached("maintenance", code, _version(request).etag))
    except MaintenanceWindow.DoesNotExist:
        return HttpResponseNotFound(render_not_found())
