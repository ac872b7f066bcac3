"""The post-mortem API under /api/v1/: post-mortems (addressed by their incident's code), their timeline, action items.

Thin: serializers check the shape, `incidents.postmortems.services` decides (roles, the
workflow, four eyes) and writes; a refused step is a 400 that says why, a missing right a 403.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from console.models import AuditEntry
from console.permissions import Capability, HasCapability, IsConsoleUser, can
from incidents.models import Incident
from incidents.postmortems import figures, services
from incidents.postmortems.models import ActionItem, Postmortem, PostmortemTimelineEntry
from incidents.postmortems.serializers import (
    ActionItemCreateSerializer,
    ActionItemPatchSerializer,
    ActionItemQuerySerializer,
    ActionItemSerializer,
    PostmortemDetailSerializer,
    PostmortemPatchSerializer,
    PostmortemQuerySerializer,
    PostmortemSerializer,
    PostmortemTimelineEntrySerializer,
    ReviewCommentSerializer,
    TimelineEntryCreateSerializer,
    TimelineEntryPatchSerializer,
)

API = AuditEntry.Source.API
ERRORS = OpenApiResponse(description="Field errors, or a refused step: {field: [messages]}.")
DENIED = OpenApiResponse(description="Your role may not do this: {detail: why}.")
RUNS = HasCapability.requires(Capability.RUN_POSTMORTEMS)
APPROVES = HasCapability.requires(Capability.APPROVE_POSTMORTEMS)


class ReadsOrRunsPostmortems(BasePermission):
    """Console users read; changing needs the right to run post-mortems."""

    def has_permission(self, request: Any, view: Any) -> bool:
        wanted = Capability.VIEW_CONSOLE if request.method in SAFE_METHODS else Capability.RUN_POSTMORTEMS
        return can(request.user, wanted)


def _postmortems() -> QuerySet[Postmortem]:
    opened = Count("action_items", filter=Q(action_items__status__in=ActionItem.OPEN_STATUSES))
    return Postmortem.objects.select_related("incident", "author", "approved_by").annotate(open_action_items=opened)


def get_postmortem(code: str) -> Postmortem:
    """Every console user reads every post-mortem; what they may change is the services'."""
    detail = _postmortems().prefetch_related(
        "incident__affected__component", "timeline", "action_items__owner", "action_items__postmortem__incident"
    )
    return get_object_or_404(detail, incident__code=code)


def _detail(code: str, answer: int = status.HTTP_200_OK) -> Response:
    return Response(PostmortemDetailSerializer(get_postmortem(code)).data, status=answer)


def _valid(serializer_class: type, data: Any) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _items() -> QuerySet[ActionItem]:
    return ActionItem.objects.select_related("owner", "postmortem__incident")


# -- post-mortems ---------------------------------------------------------------------------


@extend_schema(parameters=[PostmortemQuerySerializer], responses={200: PostmortemSerializer(many=True), 400: ERRORS})
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def postmortems(request: Request) -> Response:
    """List post-mortems, newest first."""
    query = _valid(PostmortemQuerySerializer, request.query_params)
    found = _postmortems()
    if "status" in query:
        found = found.filter(status=query["status"])
    return Response(PostmortemSerializer(found[:200], many=True).data)


@extend_schema(request=None, responses={201: PostmortemDetailSerializer, 400: ERRORS, 403: DENIED})
@api_view(["POST"])
@permission_classes([RUNS])
def create_postmortem(request: Request, code: str) -> Response:
    """Start the post-mortem of a resolved incident (commanders)."""
    incident = get_object_or_404(Incident, code=code)
    services.create_postmortem(incident=incident, by=request.user, source=API)
    return _detail(code, status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses=PostmortemDetailSerializer)
@extend_schema(
    methods=["PATCH"], request=PostmortemPatchSerializer,
    responses={200: PostmortemDetailSerializer, 400: ERRORS, 403: DENIED},
)  # fmt: skip
@api_view(["GET", "PATCH"])
@permission_classes([ReadsOrRunsPostmortems])
def postmortem(request: Request, code: str) -> Response:
    """One post-mortem with its sections, timeline, action items and key figures; or change its text and window."""
    if request.method == "PATCH":
        _patch(get_postmortem(code), _valid(PostmortemPatchSerializer, request.data), request.user)
    return _detail(code)


@transaction.atomic
def _patch(found: Postmortem, data: dict, user: Any) -> None:
    """Apply every change asked for, or none of them."""
    for key, body in data.get("sections", {}).items():
        services.edit_section(postmortem=found, key=key, body=body, by=user, source=API)
    if "public_summary" in data:
        services.set_public_summary(postmortem=found, body=data["public_summary"], by=user, source=API)
    if "window_start" in data or "window_end" in data:
        start, end = data.get("window_start", found.window_start), data.get("window_end", found.window_end)
        services.set_window(postmortem=found, start=start, end=end, by=user, source=API)


@extend_schema(request=None, responses={200: PostmortemDetailSerializer, 400: ERRORS, 403: DENIED})
@api_view(["POST"])
@permission_classes([RUNS])
def submit(request: Request, code: str) -> Response:
    """Submit the draft for review by another commander."""
    services.submit_for_review(postmortem=get_postmortem(code), by=request.user, source=API)
    return _detail(code)


@extend_schema(request=ReviewCommentSerializer, responses={200: PostmortemDetailSerializer, 400: ERRORS, 403: DENIED})
@api_view(["POST"])
@permission_classes([APPROVES])
def request_changes(request: Request, code: str) -> Response:
    """Send the post-mortem back to draft, saying what needs changing."""
    comment = _valid(ReviewCommentSerializer, request.data)["comment"]
    services.request_changes(postmortem=get_postmortem(code), comment=comment, by=request.user, source=API)
    return _detail(code)


@extend_schema(request=None, responses={200: PostmortemDetailSerializer, 400: ERRORS, 403: DENIED})
@api_view(["POST"])
@permission_classes([APPROVES])
def approve(request: Request, code: str) -> Response:
    """Approve the post-mortem in review (a commander who is not its author)."""
    services.approve(postmortem=get_postmortem(code), by=request.user, source=API)
    return _detail(code)


@extend_schema(request=None, responses={200: PostmortemDetailSerializer, 400: ERRORS, 403: DENIED})
@api_view(["POST"])
@permission_classes([RUNS])
def publish(request: Request, code: str) -> Response:
    """Publish the approved post-mortem: the public summary goes on the status page, the incident to post-mortem."""
    services.publish(postmortem=get_postmortem(code), by=request.user, source=API)
    return _detail(code)


@extend_schema(responses={(200, "text/markdown"): str})
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def postmortem_markdown(request: Request, code: str) -> HttpResponse:
    """The whole post-mortem as Markdown."""
    found = get_postmortem(code)
    response = HttpResponse(figures.as_markdown(found), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{found.incident.code}-postmortem.md"'
    return response


# -- the post-mortem's timeline -------------------------------------------------------------


@extend_schema(
    request=TimelineEntryCreateSerializer,
    responses={201: PostmortemTimelineEntrySerializer, 400: ERRORS, 403: DENIED},
)
@api_view(["POST"])
@permission_classes([RUNS])
def add_timeline_entry(request: Request, code: str) -> Response:
    """Add a line to the post-mortem's timeline."""
    data = _valid(TimelineEntryCreateSerializer, request.data)
    entry = services.add_timeline_entry(postmortem=get_postmortem(code), by=request.user, source=API, **data)
    return Response(PostmortemTimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


@extend_schema(
    methods=["PATCH"], request=TimelineEntryPatchSerializer,
    responses={200: PostmortemTimelineEntrySerializer, 400: ERRORS, 403: DENIED},
)  # fmt: skip
@extend_schema(methods=["DELETE"], responses={204: None, 400: ERRORS, 403: DENIED})
@api_view(["PATCH", "DELETE"])
@permission_classes([RUNS])
def timeline_entry(request: Request, code: str, entry_id: int) -> Response:
    """Correct or remove a line of the post-mortem's timeline."""
    entry = get_object_or_404(PostmortemTimelineEntry.objects.select_related("postmortem__incident"),
                              pk=entry_id, postmortem__incident__code=code)  # fmt: skip
    if request.method == "DELETE":
        services.remove_timeline_entry(entry=entry, by=request.user, source=API)
        return Response(status=status.HTTP_204_NO_CONTENT)
    data = _valid(TimelineEntryPatchSerializer, request.data)
    entry = services.edit_timeline_entry(entry=entry, by=request.user, source=API, **data)
    return Response(PostmortemTimelineEntrySerializer(entry).data)


# -- action items ---------------------------------------------------------------------------


@extend_schema(parameters=[ActionItemQuerySerializer], responses={200: ActionItemSerializer(many=True), 400: ERRORS})
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def action_items(request: Request) -> Response:
    """Action items of every post-mortem, soonest due first."""
    query = _valid(ActionItemQuerySerializer, request.query_params)
    found = services.overdue_action_items() if query["overdue"] else ActionItem.objects.all()
    found = found.select_related("owner", "postmortem__incident")
    if query["open"]:
        found = found.filter(status__in=ActionItem.OPEN_STATUSES)
    if "status" in query:
        found = found.filter(status=query["status"])
    if "owner" in query:
        found = found.filter(owner__username=query["owner"])
    return Response(ActionItemSerializer(found[:500], many=True).data)


@extend_schema(request=ActionItemCreateSerializer, responses={201: ActionItemSerializer, 400: ERRORS, 403: DENIED})
@api_view(["POST"])
@permission_classes([RUNS])
def add_action_item(request: Request, code: str) -> Response:
    """Add an action item to a post-mortem (commanders)."""
    data = _valid(ActionItemCreateSerializer, request.data)
    item = services.add_action_item(postmortem=get_postmortem(code), by=request.user, source=API, **data)
    return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses=ActionItemSerializer)
@extend_schema(
    methods=["PATCH"], request=ActionItemPatchSerializer,
    responses={200: ActionItemSerializer, 400: ERRORS, 403: DENIED},
)  # fmt: skip
@api_view(["GET", "PATCH"])
@permission_classes([IsConsoleUser])
def action_item(request: Request, item_id: int) -> Response:
    """One action item; or change it (commanders anything, its owner its status)."""
    item = get_object_or_404(_items(), pk=item_id)
    if request.method == "PATCH":
        data = _valid(ActionItemPatchSerializer, request.data)
        item = services.update_action_item(item=item, by=request.user, source=API, **data)
    return Response(ActionItemSerializer(item).data)
