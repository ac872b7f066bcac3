"""The operator dashboard (live engine health, markets, alerts, controls) and the health history page.

Both pages are shells: the numbers arrive in the browser (`static/console/dashboard.js` and
`history.js`) from the websocket `/ws/engine/health/` and `GET /api/v1/engine/health/`. The
server renders what it knows without the engine: the markets, the latest events and drill,
the plugged-in panels, and the controls a commander may use.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from console.health import run_checks
from console.panels import SLOTS, render_slot
from console.permissions import Capability, can, capabilities_of, capability_required
from engine.core.types import MODES
from engine.forms import HistoryForm
from engine.models import DrillResult, EngineEvent, Market
from exchange_console.static_finders import PLOTLY_URL_PATH

WINDOWS = (5, 15, 60)  # minutes of live chart the operator may pick
EVENTS_SHOWN = 25
ALERT_SEVERITIES = (EngineEvent.Severity.WARNING, EngineEvent.Severity.CRITICAL)
STALE_AFTER_SECONDS = 2.0
HISTORY_PRESETS = (
    ("15 min", timedelta(minutes=15)),
    ("1 hour", timedelta(hours=1)),
    ("6 hours", timedelta(hours=6)),
    ("24 hours", timedelta(days=1)),
    ("7 days", timedelta(days=7)),
)


def known_shards() -> list[str]:
    """The shards the console knows: this installation's, and every market's."""
    shards = set(Market.objects.values_list("shard", flat=True).distinct())
    shards.add(settings.ENGINE_SHARD)
    return sorted(shards)


def shard_for(request: HttpRequest) -> str:
    """The shard named by ?shard= (404 when unknown), or this installation's."""
    shard = request.GET.get("shard") or settings.ENGINE_SHARD
    if shard not in known_shards():
        raise Http404(f"No engine shard {shard!r}.")
    return shard


def window_for(request: HttpRequest) -> int:
    try:
        minutes = int(request.GET.get("window", WINDOWS[0]))
    except ValueError:
        return WINDOWS[0]
    return minutes if minutes in WINDOWS else WINDOWS[0]


def api_urls() -> dict[str, str]:
    return {
        "plotly": static(PLOTLY_URL_PATH),
        "health": reverse("api-engine-health"),
        "mode": reverse("api-market-mode", args=["__symbol__"]),
        "restart": reverse("api-engine-restart"),
        "drills": reverse("api-engine-drills"),
        "history": reverse("engine:history"),
        "socket": "/ws/engine/health/",
    }


def drill_data(drill: DrillResult | None) -> dict[str, Any] | None:
    if drill is None:
        return None
    return {"at": drill.at.isoformat(), "fault": drill.fault, "rto_seconds": drill.rto_seconds,
            "rpo_orders": drill.rpo_orders, "acknowledged": drill.acknowledged, "passed": drill.passed}  # fmt: skip


def panel_slots(request: HttpRequest) -> list[dict[str, Any]]:
    return [{"slot": slot, "title": title, "panels": render_slot(slot, request)} for slot, title in SLOTS.items()]


def script_config(
    shard: str, window: int, markets: list[Market], events: list, alerts: list, drill: DrillResult | None
) -> dict[str, Any]:
    """What dashboard.js starts from (the page hands it over with `json_script`)."""
    return {
        "shard": shard,
        "window": window,
        "markets": [{"symbol": market.symbol, "tick_size": market.tick_size} for market in markets],
        "staleAfter": STALE_AFTER_SECONDS,
        "urls": api_urls(),
        "drill": drill_data(drill),
        "events": [event.as_message() for event in events],
        "alerts": [event.as_message() for event in alerts],
        "eventsShown": EVENTS_SHOWN,
    }


@capability_required(Capability.VIEW_CONSOLE)
def dashboard(request: HttpRequest) -> HttpResponse:
    """Show the live dashboard of one engine shard."""
    shard, window = shard_for(request), window_for(request)
    markets = list(Market.objects.filter(shard=shard))
    recent = EngineEvent.objects.filter(shard=shard).select_related("actor")
    events = list(recent[:EVENTS_SHOWN])
    alerts = list(recent.filter(severity__in=ALERT_SEVERITIES)[:EVENTS_SHOWN])
    drill = DrillResult.objects.filter(shard=shard).first()
    config = script_config(shard, window, markets, events, alerts, drill)
    context = {
        "shard": shard,
        "shards": known_shards(),
        "window": window,
        "windows": WINDOWS,
        "markets": markets,
        "modes": [(mode, mode.replace("_", "-").capitalize()) for mode in MODES],
        "events": events,
        "alerts": alerts,
        "drill": drill,
        "can_control": can(request.user, Capability.CONTROL_ENGINE),
        "slots": panel_slots(request),
        "checks": run_checks(),
        "capabilities": capabilities_of(request.user),
        "config": config,
    }
    return render(request, "engine/dashboard.html", context)


def history_config(window: dict[str, Any]) -> dict[str, Any]:
    """What history.js draws: the shard and window, and where to fetch them."""
    markets = Market.objects.filter(shard=window["shard"]).values_list("symbol", flat=True)
    return {
        "shard": window["shard"],
        "since": window["since"].isoformat(),
        "until": window["until"].isoformat(),
        "urls": api_urls(),
        "markets": list(markets),
    }


@capability_required(Capability.VIEW_CONSOLE)
def history(request: HttpRequest) -> HttpResponse:
    """Draw any past window of a shard's health, with its engine events on the time axis."""
    shards = known_shards()
    data = request.GET.copy()
    data.setdefault("shard", settings.ENGINE_SHARD)
    form = HistoryForm(data, shards=shards)
    config = None
    if form.is_valid():
        config = history_config(form.cleaned_data)
        shown = {name: form.cleaned_data[name] for name in ("shard", "since", "until")}  # `around` resolved
        form = HistoryForm(initial=shown, shards=shards)
    context = {"form": form, "config": config, "presets": presets(data.get("shard"))}
    return render(request, "engine/history.html", context, status=200 if config else 400)


def presets(shard: str | None) -> list[dict[str, str]]:
    """Links to the last quarter hour, hour, day... of a shard."""
    now = timezone.now().replace(microsecond=0)
    return [
        {"label": label, "since": (now - span).strftime("%Y-%m-%dT%H:%M:%S"), "shard": shard or ""}
        for label, span in HISTORY_PRESETS
    ]
