"""Admin pages of the incidents app: components to configure; incidents and their timelines to read."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from engine.admin import ReadOnlyAdmin
from incidents import services
from incidents.models import Alert, AlertRule, Component, ComponentGroup, Incident, TimelineEntry, UpdateTemplate


@admin.register(ComponentGroup)
class ComponentGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "description"]


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "status", "market", "position"]
    list_filter = ["group", "status"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Component, form: Any, change: bool) -> None:
        """Save; a status change goes through the service, so the component's history records it."""
        if not (change and "status" in form.changed_data):
            super().save_model(request, obj, form, change)
            return
        status, obj.status = obj.status, form.initial["status"]
        super().save_model(request, obj, form, change)
        services.set_component_status(component=obj, status=status, by=request.user)


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    fields = ["at", "kind", "actor_name", "summary"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["code", "title", "status", "severity", "visibility", "draft", "started_at", "resolved_at"]
    list_filter = ["status", "severity", "visibility", "draft"]
    search_fields = ["code", "title"]
    date_hierarchy = "started_at"
    inlines = [TimelineInline]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "shard", "metric", "comparison", "threshold", "duration_seconds", "severity", "enabled"]
    list_filter = ["enabled", "metric", "severity"]
    filter_horizontal = ["components"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["rule", "fired_at", "resolved_at", "value", "peak", "incident"]
    list_filter = ["rule"]
    date_hierarchy = "fired_at"


@admin.register(UpdateTemplate)
class UpdateTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "position"]
    list_filter = ["status"]
    list_editable = ["position"]
