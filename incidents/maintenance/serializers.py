"""What the maintenance API accepts and answers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from engine.models import Market
from incidents.maintenance.models import MaintenanceUpdate, MaintenanceWindow, MarketAction, WindowEvent
from incidents.maintenance.services import MAX_NOTICE_HOURS
from incidents.models import Component

MESSAGE_HELP = "Markdown for customers; empty: the standard message of this move."
LARGEST_ID = 2**63 - 1


def _username(source: str) -> serializers.CharField:
    return serializers.CharField(source=f"{source}.get_username", default=None, allow_null=True, read_only=True)


def _message() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000,
                                 help_text=MESSAGE_HELP)  # fmt: skip


class WindowComponentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Component
        fields = ["id", "name", "status"]


class MarketActionSerializer(serializers.ModelSerializer):
    market = serializers.CharField(source="market.symbol", read_only=True)
    applied_at = serializers.DateTimeField(allow_null=True, read_only=True)
    restored_at = serializers.DateTimeField(allow_null=True, read_only=True)

    class Meta:
        model = MarketAction
        fields = ["market", "action", "previous_mode", "applied_at", "restored_at", "last_error"]


class MaintenanceUpdateSerializer(serializers.ModelSerializer):
    author = _username("author")

    class Meta:
        model = MaintenanceUpdate
        fields = ["id", "kind", "status", "at", "body", "body_html", "author"]


class WindowEventSerializer(serializers.ModelSerializer):
    actor = _username("actor")

    class Meta:
        model = WindowEvent
        fields = ["id", "at", "kind", "summary", "detail", "actor"]


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    components = WindowComponentSerializer(many=True, read_only=True)
    market_actions = MarketActionSerializer(many=True, read_only=True)
    created_by = _username("created_by")
    notice_hours = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    started_at = serializers.DateTimeField(allow_null=True, read_only=True)
    ended_at = serializers.DateTimeField(allow_null=True, read_only=True)
    completed_at = serializers.DateTimeField(allow_null=True, read_only=True)
    cancelled_at = serializers.DateTimeField(allow_null=True, read_only=True)
    url = serializers.CharField(read_only=True, help_text="Its public page.")

    class Meta:
        model = MaintenanceWindow
        fields = [
            "code", "title", "status", "scheduled_for", "scheduled_until", "components", "market_actions",
            "auto_start", "auto_complete", "notice_hours", "created_by", "created_at", "updated_at", "started_at",
            "ended_at", "completed_at", "cancelled_at", "url",
        ]  # fmt: skip


class MaintenanceWindowDetailSerializer(MaintenanceWindowSerializer):
    verification_problems = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="Why verification holds the window (empty while the engine is healthy).",
    )  # fmt: skip
    verification_alerted_at = serializers.DateTimeField(allow_null=True, read_only=True)
    updates = MaintenanceUpdateSerializer(many=True, read_only=True)
    events = WindowEventSerializer(many=True, read_only=True, help_text="The internal log (never public).")

    class Meta(MaintenanceWindowSerializer.Meta):
        fields = [
            *MaintenanceWindowSerializer.Meta.fields, "description", "description_html", "verification_problems",
            "verification_alerted_at", "sequence", "updates", "events",
        ]  # fmt: skip


class ScheduledWindowSerializer(MaintenanceWindowDetailSerializer):
    warnings = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="Capacity warnings: a market halted during the busiest hour of the last 7 days. The window is "
        "scheduled anyway.",
    )  # fmt: skip

    class Meta(MaintenanceWindowDetailSerializer.Meta):
        fields = [*MaintenanceWindowDetailSerializer.Meta.fields, "warnings"]


# -- requests -------------------------------------------------------------------------------


class ComponentsField(serializers.ListField):
    """Component ids in, the components out; unknown ids are named."""

    def __init__(self, **kwargs: Any) -> None:
        child = serializers.IntegerField(min_value=1, max_value=LARGEST_ID)
        super().__init__(child=child, help_text="Ids of the affected components (GET /api/v1/components/).", **kwargs)

    def to_internal_value(self, data: Any) -> list[Component]:
        ids = super().to_internal_value(data)
        found = Component.objects.in_bulk(ids)
        unknown = sorted({pk for pk in ids if pk not in found})
        if unknown:
            raise serializers.ValidationError(f"No component with id {', '.join(map(str, unknown))}.")
        return [found[pk] for pk in dict.fromkeys(ids)]


class MarketActionsField(serializers.DictField):
    """`{market symbol: action}` in, `{Market: action}` out; unknown symbols are named."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.ChoiceField(choices=MarketAction.Action.choices),
                         help_text="{market symbol: engine action}; markets left out keep trading.",
                         **kwargs)  # fmt: skip

    def to_internal_value(self, data: Any) -> dict[Market, str]:
        actions = super().to_internal_value(data)
        for symbol in actions:  # keys are not checked like values: no NUL, no surrogates, a symbol's length
            serializers.CharField(max_length=32).run_validation(symbol)
        found = {market.symbol: market for market in Market.objects.filter(symbol__in=list(actions))}
        unknown = sorted(symbol for symbol in actions if symbol not in found)
        if unknown:
            raise serializers.ValidationError(f"No market {', '.join(unknown)}.")
        return {found[symbol]: action for symbol, action in actions.items()}


class ScheduleSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=50_000, trim_whitespace=False,
        help_text="Markdown: what customers should expect.",
    )  # fmt: skip
    scheduled_for = serializers.DateTimeField(help_text="The start; not in the past.")
    scheduled_until = serializers.DateTimeField(help_text="The end; after the start.")
    components = ComponentsField()
    actions = MarketActionsField(required=False, default=dict)
    auto_start = serializers.BooleanField(required=False, default=True)
    auto_complete = serializers.BooleanField(required=False, default=True)
    notice_hours = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_NOTICE_HOURS), required=False, allow_null=True,
        default=None, help_text="Advance notices, in hours before the start; null or absent: 72, 24 and 1.",
    )  # fmt: skip
    message = _message()


class MessageSerializer(serializers.Serializer):
    message = _message()


class ExtendSerializer(serializers.Serializer):
    until = serializers.DateTimeField(help_text="The new end: after the current one and after now.")
    message = _message()


class RescheduleSerializer(serializers.Serializer):
    scheduled_for = serializers.DateTimeField()
    scheduled_until = serializers.DateTimeField()
    message = _message()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500,
                                   help_text="Internal: goes to the audit log and the window's log.")  # fmt: skip
    message = _message()


class CompleteSerializer(ReasonSerializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500,
        help_text="Why complete without confirmed recovery: required while verification_problems is not empty.",
    )  # fmt: skip


# -- query parameters -----------------------------------------------------------------------


class MaintenanceQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[*MaintenanceWindow.Status.choices, ("open", "Open")], required=False,
        help_text="One status, or `open`: scheduled, in progress or verifying.",
    )  # fmt: skip
