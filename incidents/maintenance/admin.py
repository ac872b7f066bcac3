"""Admin pages of maintenance windows: to read. Windows are scheduled and changed in the console or the API,
where the lifecycle, the notifications and the audit log live.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from engine.admin import ReadOnlyAdmin
from incidents.maintenance.models import MaintenanceUpdate, MaintenanceWindow, MarketAction, Notice, WindowEvent


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return list(self.fields)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MarketActionInline(ReadOnlyInline):
    model = MarketAction
    fields = ["market", "action", "previous_mode", "applied_at", "restored_at", "last_error"]


class UpdateInline(ReadOnlyInline):
    model = MaintenanceUpdate
    fields = ["at", "kind", "status", "body", "author"]


class EventInline(ReadOnlyInline):
    model = WindowEvent
    fields = ["at", "kind", "summary", "actor"]


class NoticeInline(ReadOnlyInline):
    model = Notice
    fields = ["hours_before", "scheduled_for", "at", "skipped"]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ReadOnlyAdmin):
    """Windows are changed in the console (/console/maintenance/) or the API, which notify and audit."""

    list_display = ["code", "title", "status", "scheduled_for", "scheduled_until", "auto_start", "auto_complete",
                    "created_by"]  # fmt: skip
    list_filter = ["status", "auto_start", "auto_complete"]
    search_fields = ["code", "title"]
    date_hierarchy = "scheduled_for"
    inlines = [MarketActionInline, UpdateInline, NoticeInline, EventInline]
