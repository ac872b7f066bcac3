"""Admin pages of the engine app: markets to configure; engine events, health and drills to read."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from engine.models import DrillResult, EngineEvent, HealthMinute, Market

# What the engine takes from a market's row only when its shard's journal is new: afterwards the
# journal's snapshots hold the configuration it runs with, so these would change nothing.
ENGINE_FIELDS = ["symbol", "shard", "tick_size", "lot_size", "min_qty", "max_qty", "band_bps", "reference_price"]


def engine_has_run(shard: str) -> bool:
    return EngineEvent.objects.filter(shard=shard, kind=EngineEvent.Kind.RECOVERED).exists()


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ["symbol", "shard", "tick_size", "lot_size", "min_qty", "max_qty", "band_bps", "initial_mode"]
    list_filter = ["shard"]
    search_fields = ["symbol"]

    def get_readonly_fields(self, request: HttpRequest, obj: Market | None = None) -> list[str]:
        if obj is not None and engine_has_run(obj.shard):
            return ENGINE_FIELDS
        return []

    def has_delete_permission(self, request: HttpRequest, obj: Market | None = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or not engine_has_run(obj.shard))


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the engine's processes: to read, never to edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(EngineEvent)
class EngineEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "shard", "kind", "severity", "message"]
    list_filter = ["shard", "kind", "severity"]
    date_hierarchy = "at"


@admin.register(HealthMinute)
class HealthMinuteAdmin(ReadOnlyAdmin):
    list_display = ["minute", "shard", "commands", "trades", "latency_p99_us", "queue_depth_max", "restarts"]
    list_filter = ["shard"]
    date_hierarchy = "minute"


@admin.register(DrillResult)
class DrillResultAdmin(ReadOnlyAdmin):
    list_display = ["at", "shard", "fault", "rto_seconds", "rpo_orders", "acknowledged", "passed"]
    list_filter = ["shard", "fault", "passed"]
