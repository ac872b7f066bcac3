"""The maintenance API under /api/v1/maintenance/: windows (addressed by their code) and the moves of their lifecycle.

Thin: serializers check the shape, `incidents.maintenance.services` decides (roles, the
lifecycle, times, overlaps) and writes, audited as coming from the API; a refused move is a 400
that says why, a missing right a 403. Console users read; commanders and admins change.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from console.models import AuditEntry
from console.permissions import Capability, HasCapability, IsConsoleUser, can
from incidents.maintenance import services
from incidents.maintenance.models import MaintenanceWindow
from incidents.maintenance.serializers import (
    CompleteSerializer,
    ExtendSerializer,
    MaintenanceQuerySerializer,
    MaintenanceWindowDetailSerializer,
    MaintenanceWindowSerializer,
    MessageSerializer,
    ReasonSerializer,
    RescheduleSerializer,
    ScheduledWindowSerializer,
    ScheduleSerializer,
)

API = AuditEntry.Source.API
ERRORS = OpenApiResponse(description="Field errors, or a refused move: {field: [messages]}.")
DENIED = OpenApiResponse(description="Your role may not do this: {detail: why}.")
SCHEDULES = HasCapability.requires(Capability.SCHEDULE_MAINTENANCE)
# What a move may take when the engine does not answer (each market's mode change waits up to 15 s).
ENGINE_NOTE = " Switching the engine's markets may take up to 15 s per market when the engine does not answer."
WRITES = {200: MaintenanceWindowDetailSerializer, 400: ERRORS, 403: DENIED}


class ReadsOrSchedulesMaintenance(BasePermission):
    """Console users read; scheduling needs the right to schedule maintenance."""

    def has_permission(self, request: Any, view: Any) -> bool:
        wanted = Capability.VIEW_CONSOLE if request.method in SAFE_METHODS else Capability.SCHEDULE_MAINTENANCE
        return can(request.user, wanted)


def _windows() -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.select_related("created_by").prefetch_related(
        "components", "market_actions__market"
    )


def get_window(code: str) -> MaintenanceWindow:
    """Every console user reads every window; what they may change is the services'."""
    detail = _windows().prefetch_related("updates__author", "events__actor")
    return get_object_or_404(detail, code=code)


def _target(code: str) -> MaintenanceWindow:
    """The window a move works on, loaded plainly: the services refresh and lock it themselves."""
    return get_object_or_404(MaintenanceWindow, code=code)


def _detail(code: str) -> Response:
    return Response(MaintenanceWindowDetailSerializer(get_window(code)).data)


def _renamed(error: DjangoValidationError, **names: str) -> DjangoValidationError:
    """The services' error with its fields named as this request names them."""
    if not hasattr(error, "error_dict"):
        return error
    return DjangoValidationError({names.get(field, field): messages for field, messages in error.message_dict.items()})


def _valid(serializer_class: type, data: Any) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(
    methods=["GET"], parameters=[MaintenanceQuerySerializer],
    responses={200: MaintenanceWindowSerializer(many=True), 400: ERRORS},
)  # fmt: skip
@extend_schema(
    methods=["POST"], request=ScheduleSerializer, responses={201: ScheduledWindowSerializer, 400: ERRORS, 403: DENIED},
    description="Schedule a window (commanders) and tell subscribers. Refused (400) in the past, when the end is not "
    "after the start, without components, or overlapping an open window on the same component or market (the other "
    "window is named). A window halting a market during the busiest hour of the last 7 days is scheduled all the "
    "same: the answer's `warnings` say so, with the figure; a script that minds cancels it.",
)  # fmt: skip
@api_view(["GET", "POST"])
@permission_classes([ReadsOrSchedulesMaintenance])
def windows(request: Request) -> Response:
    """List maintenance windows, latest start first, with ?status=; or schedule one."""
    if request.method == "POST":
        return _schedule(request)
    query = _valid(MaintenanceQuerySerializer, request.query_params)
    found = _windows()
    if query.get("status") == "open":
        found = found.filter(status__in=MaintenanceWindow.OPEN)
    elif "status" in query:
        found = found.filter(status=query["status"])
    return Response(MaintenanceWindowSerializer(found[:200], many=True).data)


def _schedule(request: Request) -> Response:
    data = _valid(ScheduleSerializer, request.data)
    window = services.schedule_window(by=request.user, source=API, **data)
    found = get_window(window.code)
    found.warnings = services.capacity_warnings(
        scheduled_for=window.scheduled_for, scheduled_until=window.scheduled_until, actions=data["actions"]
    )
    return Response(ScheduledWindowSerializer(found).data, status=status.HTTP_201_CREATED)


@extend_schema(responses=MaintenanceWindowDetailSerializer)
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def window(request: Request, code: str) -> Response:
    """One window with its engine actions, public updates and internal log."""
    return _detail(code)


@extend_schema(request=MessageSerializer, responses=WRITES, description=f"Start a scheduled window now.{ENGINE_NOTE}")
@api_view(["POST"])
@permission_classes([SCHEDULES])
def start(request: Request, code: str) -> Response:
    """Start a scheduled window now (early, or one without automatic start)."""
    message = _valid(MessageSerializer, request.data)["message"]
    services.start_window(window=_target(code), by=request.user, message=message, source=API)
    return _detail(code)


@extend_schema(
    request=MessageSerializer, responses=WRITES,
    description="End the work of a window in progress: the markets go back to their modes, then engine health is "
    f"verified; the window completes at once when it confirms recovery, else it stays `verifying`.{ENGINE_NOTE}",
)  # fmt: skip
@api_view(["POST"])
@permission_classes([SCHEDULES])
def end(request: Request, code: str) -> Response:
    """End the work of a window in progress now."""
    message = _valid(MessageSerializer, request.data)["message"]
    services.end_window(window=_target(code), by=request.user, message=message, source=API)
    return _detail(code)


@extend_schema(request=CompleteSerializer, responses=WRITES)
@api_view(["POST"])
@permission_classes([SCHEDULES])
def complete(request: Request, code: str) -> Response:
    """Complete a verifying window now; a reason is required while verification holds."""
    data = _valid(CompleteSerializer, request.data)
    services.complete_window(window=_target(code), by=request.user, source=API, **data)
    return _detail(code)


@extend_schema(
    request=ExtendSerializer, responses=WRITES,
    description=f"Move the end later; a window verifying goes back to work, its markets into their modes.{ENGINE_NOTE}",
)  # fmt: skip
@api_view(["POST"])
@permission_classes([SCHEDULES])
def extend(request: Request, code: str) -> Response:
    """Extend a window that has not completed."""
    data = _valid(ExtendSerializer, request.data)
    try:
        services.extend_window(window=_target(code), by=request.user, source=API, **data)
    except DjangoValidationError as error:
        raise _renamed(error, scheduled_until="until") from None
    return _detail(code)


@extend_schema(request=RescheduleSerializer, responses=WRITES)
@api_view(["POST"])
@permission_classes([SCHEDULES])
def reschedule(request: Request, code: str) -> Response:
    """Move a window that has not started; customers are told the new times."""
    data = _valid(RescheduleSerializer, request.data)
    services.reschedule_window(window=_target(code), by=request.user, source=API, **data)
    return _detail(code)


@extend_schema(request=ReasonSerializer, responses=WRITES)
@api_view(["POST"])
@permission_classes([SCHEDULES])
def cancel(request: Request, code: str) -> Response:
    """Cancel a window that has not started; customers are told."""
    data = _valid(ReasonSerializer, request.data)
    services.cancel_window(window=_target(code), by=request.user, source=API, **data)
    return _detail(code)
