"""What the incidents API accepts and answers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from incidents.models import (
    AffectedComponent,
    Alert,
    AlertRule,
    Component,
    ComponentStatus,
    Incident,
    IncidentUpdate,
    TimelineEntry,
    UpdateTemplate,
)


class ComponentSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name", default=None, allow_null=True, read_only=True)
    market = serializers.CharField(source="market.symbol", default=None, allow_null=True, read_only=True)

    class Meta:
        model = Component
        fields = ["id", "name", "description", "group", "position", "status", "market", "updated_at"]


class ComponentStatusesField(serializers.DictField):
    """`{component id: status}`, turned into `{Component: status}`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.ChoiceField(choices=ComponentStatus.choices), **kwargs)

    def to_internal_value(self, data: Any) -> dict[Component, str]:
        statuses = super().to_internal_value(data)
        found = Component.objects.in_bulk([key for key in statuses if str(key).isdigit()])
        unknown = [key for key in statuses if not str(key).isdigit() or int(key) not in found]
        if unknown:
            raise serializers.ValidationError(f"No component with id {', '.join(map(str, unknown))}.")
        return {found[int(key)]: status for key, status in statuses.items()}


class AffectedSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="component.id")
    name = serializers.CharField(source="component.name")

    class Meta:
        model = AffectedComponent
        fields = ["id", "name", "status"]


class UpdateSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = IncidentUpdate
        fields = [
            "id", "at", "internal", "body", "body_html", "previous_status", "status", "component_changes", "author",
        ]  # fmt: skip


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = ["id", "at", "kind", "actor_name", "summary", "detail"]


def _seconds(delta: Any) -> float | None:
    return None if delta is None else delta.total_seconds()


class IncidentSerializer(serializers.ModelSerializer):
    impact = serializers.CharField(read_only=True)
    commander = serializers.CharField(source="commander.get_username", default=None, allow_null=True, read_only=True)
    communications_lead = serializers.CharField(
        source="communications_lead.get_username", default=None, allow_null=True, read_only=True
    )
    affected = AffectedSerializer(many=True, read_only=True)
    seconds_to_acknowledge = serializers.SerializerMethodField()
    seconds_to_resolve = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "code", "title", "status", "impact", "impact_override", "severity", "visibility", "draft", "commander",
            "communications_lead", "affected", "started_at", "detected_at", "acknowledged_at", "mitigated_at",
            "resolved_at", "seconds_to_acknowledge", "seconds_to_resolve",
        ]  # fmt: skip

    def get_seconds_to_acknowledge(self, incident: Incident) -> float | None:
        return _seconds(incident.time_to_acknowledge())

    def get_seconds_to_resolve(self, incident: Incident) -> float | None:
        return _seconds(incident.time_to_resolve())


class IncidentDetailSerializer(IncidentSerializer):
    updates = UpdateSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "updates"]


class DeclareSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, default=Incident.Severity.SEV3)
    visibility = serializers.ChoiceField(choices=Incident.Visibility.choices, default=Incident.Visibility.PUBLIC)
    message = serializers.CharField(required=False, allow_blank=True, default="", help_text="First public update.")
    started_at = serializers.DateTimeField(required=False, help_text="When impact began; default now.")
    components = ComponentStatusesField(required=False, default=dict)


class PostUpdateSerializer(serializers.Serializer):
    body = serializers.CharField(help_text="Markdown.")
    status = serializers.ChoiceField(choices=Incident.Status.choices, required=False)
    components = ComponentStatusesField(required=False, default=dict)


class NoteSerializer(serializers.Serializer):
    body = serializers.CharField(help_text="Markdown; never public.")


class SeveritySerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Incident.Severity.choices)


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["commander", "communications_lead"])
    username = serializers.CharField(allow_null=True, help_text="null clears the role.")

    def validate_username(self, value: str | None) -> Any:
        if value is None:
            return None
        user = get_user_model().objects.filter(username=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"No active user {value!r}.")
        return user


class PublishSerializer(serializers.Serializer):
    message = serializers.CharField(required=False, allow_blank=True, default="", help_text="First public update.")


class StartedSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField(help_text="When the impact began.")


class VisibilitySerializer(serializers.Serializer):
    visibility = serializers.ChoiceField(choices=Incident.Visibility.choices)


class UpdateTemplateSerializer(serializers.ModelSerializer):
    filled = serializers.CharField(
        read_only=True, allow_null=True, help_text="The body with the incident's facts in it (with ?incident=)."
    )

    class Meta:
        model = UpdateTemplate
        fields = ["id", "name", "status", "body", "filled"]


class PreviewSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=50_000, help_text="Markdown.")


class PreviewResultSerializer(serializers.Serializer):
    html = serializers.CharField(help_text="The body rendered and sanitized, exactly as it will be published.")


class AlertRuleSerializer(serializers.ModelSerializer):
    """A rule as read, and as written (PATCH sends only what changes)."""

    components = serializers.PrimaryKeyRelatedField(many=True, queryset=Component.objects.all(), required=False)

    class Meta:
        model = AlertRule
        fields = ["id", "name", "shard", "metric", "comparison", "threshold", "duration_seconds", "severity",
                  "components", "enabled", "pending_since"]  # fmt: skip
        read_only_fields = ["pending_since"]
        # Uniqueness is the service's model validation (one message, whichever way a rule is saved).
        extra_kwargs = {"name": {"validators": []}}


class AlertSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.name", read_only=True)
    metric = serializers.CharField(source="rule.metric", read_only=True)
    incident = serializers.CharField(source="incident.code", default=None, allow_null=True, read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "rule", "metric", "fired_at", "resolved_at", "value", "peak", "incident"]
