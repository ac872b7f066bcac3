"""What the post-mortem API accepts and answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.postmortems import figures
from incidents.postmortems.models import ActionItem, Postmortem, PostmortemSection, PostmortemTimelineEntry
from incidents.serializers import IncidentSerializer


def _username(source: str) -> serializers.CharField:
    return serializers.CharField(source=f"{source}.get_username", default=None, allow_null=True, read_only=True)


class SectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PostmortemSection
        fields = ["key", "title", "guidance", "position", "body", "body_html"]


class PostmortemTimelineEntrySerializer(serializers.ModelSerializer):
    source = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The incident timeline entry this copies; null when written here."
    )

    class Meta:
        model = PostmortemTimelineEntry
        fields = ["id", "at", "kind", "actor_name", "summary", "source"]


class ActionItemSerializer(serializers.ModelSerializer):
    incident = serializers.CharField(source="postmortem.incident.code", read_only=True)
    owner = _username("owner")
    due_on = serializers.DateField(allow_null=True, read_only=True)
    completed_at = serializers.DateTimeField(allow_null=True, read_only=True)
    reminded_at = serializers.DateTimeField(allow_null=True, read_only=True)
    overdue = serializers.BooleanField(source="is_overdue", read_only=True)

    class Meta:
        model = ActionItem
        fields = [
            "id", "incident", "title", "owner", "due_on", "priority", "status", "link", "overdue", "created_at",
            "updated_at", "completed_at", "reminded_at",
        ]  # fmt: skip


class KeyFiguresSerializer(serializers.Serializer):
    """`figures.key_figures`, durations in seconds; null where the data does not say."""

    duration_seconds = serializers.FloatField(allow_null=True)
    time_to_detect_seconds = serializers.FloatField(allow_null=True)
    time_to_acknowledge_seconds = serializers.FloatField(allow_null=True)
    time_to_mitigate_seconds = serializers.FloatField(allow_null=True)
    time_to_resolve_seconds = serializers.FloatField(allow_null=True)
    orders_rejected = serializers.IntegerField(allow_null=True, help_text="Null when no health minute was recorded.")
    commands_lost = serializers.IntegerField(allow_null=True, help_text="Null when no measurement covers the window.")
    engine_restarts = serializers.IntegerField()
    engine_events = serializers.IntegerField()
    shards = serializers.ListField(child=serializers.CharField())

    @staticmethod
    def of(postmortem: Postmortem) -> dict[str, Any]:
        """The key figures with every duration turned into seconds."""
        found = figures.key_figures(postmortem)
        answer = {}
        for name, value in found.items():
            if name in figures.DURATIONS:
                answer[f"{name}_seconds"] = value.total_seconds() if isinstance(value, timedelta) else None
            else:
                answer[name] = value
        return answer


class PostmortemSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="incident.code", read_only=True)
    title = serializers.CharField(source="incident.title", read_only=True)
    author = _username("author")
    approved_by = _username("approved_by")
    submitted_at = serializers.DateTimeField(allow_null=True, read_only=True)
    approved_at = serializers.DateTimeField(allow_null=True, read_only=True)
    published_at = serializers.DateTimeField(allow_null=True, read_only=True)
    open_action_items = serializers.IntegerField(read_only=True)

    class Meta:
        model = Postmortem
        fields = [
            "code", "title", "status", "author", "approved_by", "created_at", "updated_at", "submitted_at",
            "approved_at", "published_at", "window_start", "window_end", "open_action_items",
        ]  # fmt: skip


class PostmortemDetailSerializer(PostmortemSerializer):
    incident = IncidentSerializer(read_only=True)
    sections = SectionSerializer(source="sections_in_order", many=True, read_only=True)
    timeline = PostmortemTimelineEntrySerializer(many=True, read_only=True)
    action_items = ActionItemSerializer(many=True, read_only=True)
    key_figures = serializers.SerializerMethodField()

    class Meta(PostmortemSerializer.Meta):
        fields = [
            *PostmortemSerializer.Meta.fields, "incident", "public_summary", "public_summary_html", "review_comment",
            "key_figures", "sections", "timeline", "action_items",
        ]  # fmt: skip

    @extend_schema_field(KeyFiguresSerializer)
    def get_key_figures(self, postmortem: Postmortem) -> dict[str, Any]:
        return KeyFiguresSerializer.of(postmortem)


# -- requests -------------------------------------------------------------------------------


class PostmortemPatchSerializer(serializers.Serializer):
    sections = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False,
        help_text="{section key: Markdown body}, for the sections to change.",
    )  # fmt: skip
    public_summary = serializers.CharField(allow_blank=True, trim_whitespace=False, required=False,
                                           help_text="Markdown, shown on the status page once published.")  # fmt: skip
    window_start = serializers.DateTimeField(required=False)
    window_end = serializers.DateTimeField(required=False)


class ReviewCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(help_text="What needs changing.")


class TimelineEntryCreateSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(max_length=32, default="note")
    summary = serializers.CharField(max_length=300)


class TimelineEntryPatchSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False)
    kind = serializers.CharField(max_length=32, required=False)
    summary = serializers.CharField(max_length=300, required=False)


class OwnerField(serializers.CharField):
    """A username in, the active user out (null: nobody)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, help_text="Username of the owner; null for nobody.", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        username = super().to_internal_value(data)
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"No active user {username!r}.")
        return user


class ActionItemCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    owner = OwnerField(required=False, default=None)
    due_on = serializers.DateField(required=False, allow_null=True, default=None)
    priority = serializers.ChoiceField(choices=ActionItem.Priority.choices, default=ActionItem.Priority.P3)
    link = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")


class ActionItemPatchSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    owner = OwnerField(required=False)
    due_on = serializers.DateField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=ActionItem.Priority.choices, required=False)
    status = serializers.ChoiceField(choices=ActionItem.Status.choices, required=False)
    link = serializers.URLField(max_length=500, required=False, allow_blank=True)


# -- query parameters -----------------------------------------------------------------------


class PostmortemQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Postmortem.Status.choices, required=False)


class ActionItemQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ActionItem.Status.choices, required=False)
    open = serializers.BooleanField(required=False, default=False, help_text="Only items open or in progress.")
    owner = serializers.CharField(required=False, help_text="Username of the owner.")
    overdue = serializers.BooleanField(required=False, default=False, help_text="Only items past their due date.")
