"""The incidents API under /api/v1/: components, incidents, their updates, notes, roles and timeline.

Thin: serializers validate, `incidents.services` decides (roles, allowed moves) and writes;
a refused move is a 400 naming the way, a missing right a 403, never a 500.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from console.models import AuditEntry
from console.permissions import Capability, HasCapability, IsConsoleUser
from incidents import services, timeline
from incidents.markdown import render
from incidents.models import Alert, AlertRule, Component, Incident, UpdateTemplate
from incidents.serializers import (
    AlertRuleSerializer,
    AlertSerializer,
    ComponentSerializer,
    DeclareSerializer,
    IncidentDetailSerializer,
    IncidentSerializer,
    NoteSerializer,
    PostUpdateSerializer,
    PreviewResultSerializer,
    PreviewSerializer,
    PublishSerializer,
    RoleSerializer,
    SeveritySerializer,
    StartedSerializer,
    TimelineEntrySerializer,
    UpdateSerializer,
    UpdateTemplateSerializer,
    VisibilitySerializer,
)

API = AuditEntry.Source.API
ERRORS = OpenApiResponse(description="Field errors, or a refused status move: {field: [messages]}.")


def get_incident(code: str) -> Incident:
    """Every console user reads every incident, internal ones included; what they may change is the services'."""
    return get_object_or_404(Incident.objects.prefetch_related("affected__component"), code=code)


def _valid(serializer_class: type, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(responses=ComponentSerializer(many=True))
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def components(request: Request) -> Response:
    """List the components in their groups' order, with their current status."""
    found = Component.objects.select_related("group", "market")
    return Response(ComponentSerializer(found, many=True).data)


@extend_schema(
    methods=["GET"],
    parameters=[OpenApiParameter("open", bool, description="Only incidents not yet resolved.")],
    responses=IncidentSerializer(many=True),
)
@extend_schema(methods=["POST"], request=DeclareSerializer, responses={201: IncidentDetailSerializer, 400: ERRORS})
@api_view(["GET", "POST"])
@permission_classes([IsConsoleUser])
def incidents(request: Request) -> Response:
    """List incidents, newest first; or declare one (commanders)."""
    if request.method == "POST":
        data = _valid(DeclareSerializer, request)
        incident = services.declare_incident(by=request.user, source=API, **data)
        return Response(IncidentDetailSerializer(get_incident(incident.code)).data, status=status.HTTP_201_CREATED)
    found = Incident.objects.prefetch_related("affected__component").select_related("commander", "communications_lead")
    if request.query_params.get("open") in ("1", "true", "yes"):
        found = found.exclude(status__in=[Incident.Status.RESOLVED, Incident.Status.POSTMORTEM])
    return Response(IncidentSerializer(found[:200], many=True).data)


@extend_schema(responses=IncidentDetailSerializer)
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def incident(request: Request, code: str) -> Response:
    """One incident with its affected components and every update and note, newest first."""
    return Response(IncidentDetailSerializer(get_incident(code)).data)


@extend_schema(request=PostUpdateSerializer, responses={201: UpdateSerializer, 400: ERRORS})
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.POST_UPDATES)])
def post_update(request: Request, code: str) -> Response:
    """Post a public update; a status move or component changes may ride with it (commanders)."""
    data = _valid(PostUpdateSerializer, request)
    update = services.post_update(incident=get_incident(code), by=request.user, source=API, **data)
    return Response(UpdateSerializer(update).data, status=status.HTTP_201_CREATED)


@extend_schema(request=NoteSerializer, responses={201: UpdateSerializer, 400: ERRORS})
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.POST_INTERNAL_NOTES)])
def add_note(request: Request, code: str) -> Response:
    """Add an internal note (never public)."""
    body = _valid(NoteSerializer, request)["body"]
    note = services.add_note(incident=get_incident(code), body=body, by=request.user, source=API)
    return Response(UpdateSerializer(note).data, status=status.HTTP_201_CREATED)


@extend_schema(request=SeveritySerializer, responses={200: IncidentSerializer, 400: ERRORS})
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.MANAGE_INCIDENTS)])
def change_severity(request: Request, code: str) -> Response:
    """Change the internal severity (SEV1-SEV4)."""
    found = get_incident(code)
    services.change_severity(incident=found, to=_valid(SeveritySerializer, request)["severity"], by=request.user,
                             source=API)  # fmt: skip
    return Response(IncidentSerializer(found).data)


@extend_schema(request=RoleSerializer, responses={200: IncidentSerializer, 400: ERRORS})
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.MANAGE_INCIDENTS)])
def assign_role(request: Request, code: str) -> Response:
    """Give the commander or communications lead role to someone (null clears it)."""
    found, data = get_incident(code), _valid(RoleSerializer, request)
    services.assign_role(incident=found, role=data["role"], user=data["username"], by=request.user, source=API)
    return Response(IncidentSerializer(found).data)


@extend_schema(
    parameters=[OpenApiParameter("kind", str, description="Only entries of this kind (update, note, ...).")],
    responses=TimelineEntrySerializer(many=True),
)
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def incident_timeline(request: Request, code: str) -> Response:
    """The incident's timeline, oldest first."""
    entries = get_incident(code).timeline.all()
    if kind := request.query_params.get("kind"):
        entries = entries.filter(kind=kind)
    return Response(TimelineEntrySerializer(entries, many=True).data)


@extend_schema(responses={(200, "text/markdown"): str})
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def timeline_markdown(request: Request, code: str) -> HttpResponse:
    """The incident's timeline as Markdown."""
    found = get_incident(code)
    response = HttpResponse(timeline.as_markdown(found), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{found.code}-timeline.md"'
    return response


@extend_schema(request=PublishSerializer, responses={200: IncidentDetailSerializer, 400: ERRORS})
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.MANAGE_INCIDENTS)])
def publish(request: Request, code: str) -> Response:
    """Publish a draft incident (one an alert rule opened): its component statuses take effect."""
    found = get_incident(code)
    services.publish_draft(incident=found, by=request.user, source=API, **_valid(PublishSerializer, request))
    return Response(IncidentDetailSerializer(get_incident(code)).data)


@extend_schema(request=StartedSerializer, responses={200: IncidentSerializer, 400: ERRORS})
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.MANAGE_INCIDENTS)])
def set_started_at(request: Request, code: str) -> Response:
    """Move when the impact began (MTTR is counted from it)."""
    found = get_incident(code)
    services.set_started_at(incident=found, at=_valid(StartedSerializer, request)["started_at"], by=request.user,
                            source=API)  # fmt: skip
    return Response(IncidentSerializer(found).data)


@extend_schema(request=VisibilitySerializer, responses={200: IncidentSerializer, 400: ERRORS})
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.MANAGE_INCIDENTS)])
def change_visibility(request: Request, code: str) -> Response:
    """Make the incident public or internal-only."""
    found = get_incident(code)
    services.change_visibility(incident=found, to=_valid(VisibilitySerializer, request)["visibility"],
                               by=request.user, source=API)  # fmt: skip
    return Response(IncidentSerializer(found).data)


@extend_schema(
    parameters=[
        OpenApiParameter("status", str, description="Only templates offered for this status (and those for any)."),
        OpenApiParameter("incident", str, description="An incident code: fill each template's placeholders."),
    ],
    responses=UpdateTemplateSerializer(many=True),
)
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def update_templates(request: Request) -> Response:
    """The update templates, optionally for one status and filled in for one incident."""
    found = list(UpdateTemplate.objects.all())
    if chosen := request.query_params.get("status"):
        found = [template for template in found if template.status in ("", chosen)]
    if code := request.query_params.get("incident"):
        target = get_incident(code)
        for template in found:
            template.filled = services.fill_template(template=template, incident=target, status=chosen or None)
    return Response(UpdateTemplateSerializer(found, many=True).data)


@extend_schema(request=PreviewSerializer, responses={200: PreviewResultSerializer, 400: ERRORS})
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.POST_INTERNAL_NOTES)])
def preview(request: Request) -> Response:
    """Render Markdown exactly as an update or note will be published (sanitized)."""
    return Response({"html": render(_valid(PreviewSerializer, request)["body"])})


@extend_schema(methods=["GET"], responses=AlertRuleSerializer(many=True))
@extend_schema(methods=["POST"], request=AlertRuleSerializer, responses={201: AlertRuleSerializer, 400: ERRORS})
@api_view(["GET", "POST"])
@permission_classes([IsConsoleUser])
def alert_rules(request: Request) -> Response:
    """List the alert rules; or create one (admins)."""
    if request.method == "POST":
        rule = services.save_alert_rule(by=request.user, source=API, **_rule_fields(request, partial=False))
        return Response(AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)
    return Response(AlertRuleSerializer(AlertRule.objects.prefetch_related("components"), many=True).data)


@extend_schema(methods=["PATCH"], request=AlertRuleSerializer, responses={200: AlertRuleSerializer, 400: ERRORS})
@extend_schema(methods=["GET"], responses=AlertRuleSerializer)
@extend_schema(methods=["DELETE"], responses={204: None})
@api_view(["GET", "PATCH", "DELETE"])
@permission_classes([IsConsoleUser])
def alert_rule(request: Request, pk: int) -> Response:
    """One alert rule; admins change or delete it."""
    rule = get_object_or_404(AlertRule, pk=pk)
    if request.method == "DELETE":
        services.delete_alert_rule(rule=rule, by=request.user, source=API)
        return Response(status=status.HTTP_204_NO_CONTENT)
    if request.method == "PATCH":
        rule = services.save_alert_rule(rule=rule, by=request.user, source=API, **_rule_fields(request, partial=True))
    return Response(AlertRuleSerializer(rule).data)


def _rule_fields(request: Request, *, partial: bool) -> dict:
    serializer = AlertRuleSerializer(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@extend_schema(
    parameters=[OpenApiParameter("open", bool, description="Only alerts whose condition still holds.")],
    responses=AlertSerializer(many=True),
)
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def alerts(request: Request) -> Response:
    """The alerts that fired, newest first (the last 200)."""
    found = Alert.objects.select_related("rule", "incident")
    if request.query_params.get("open") in ("1", "true", "yes"):
        found = found.filter(resolved_at=None)
    return Response(AlertSerializer(found[:200], many=True).data)
