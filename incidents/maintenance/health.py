"""Engine health as maintenance needs it: has the engine recovered, and when is it busiest.

A window completes only when every shard it touched confirms recovery: a fresh heartbeat, a
metrics snapshot in the last few seconds with the queue small or shrinking, no crash, hang or
crash loop in the last minute, and every market back in the mode it had before.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from engine.client import EngineClient
from engine.client import connection as shared_connection
from engine.health import HealthPublisher
from engine.models import EngineEvent, HealthMinute
from engine.streams import unpack
from incidents.maintenance.models import MaintenanceWindow

logger = logging.getLogger("incidents.maintenance")

FRESH_SECONDS = 5.0
QUEUE_SETTLED = 1_000  # commands waiting: below this the queue counts as drained whatever its trend
QUIET_AFTER_CRASH = timedelta(minutes=1)
VERIFY_GRACE = timedelta(seconds=30)  # problems this long after the end raise the alert
BUSY_WINDOW = timedelta(days=7)
FAILURES = [EngineEvent.Kind.CRASHED, EngineEvent.Kind.HUNG, EngineEvent.Kind.CRASH_LOOP]


def shards_of(window: MaintenanceWindow) -> list[str]:
    """The engine shards a window touches: of the markets it drives, and of its components' markets."""
    shards = {action.market.shard for action in window.market_actions.select_related("market")
              if action.action != "none"}  # fmt: skip
    shards |= {component.market.shard for component in window.components.select_related("market") if component.market}
    return sorted(shards)


def problems(window: MaintenanceWindow, *, now: datetime | None = None) -> list[str]:
    """Say what keeps the window from completing; an empty list means the engine has recovered."""
    now = now or timezone.now()
    found = []
    for action in window.market_actions.filter(applied_at__isnull=False, restored_at=None).select_related("market"):
        found.append(f"{action.market} is not back to {action.previous_mode}: {action.last_error or 'not yet'}")
    for shard in shards_of(window):
        found += shard_problems(shard, now=now)
    return found


def shard_problems(shard: str, *, now: datetime) -> list[str]:
    client = EngineClient(shard, shared_connection(settings.REDIS_URL))
    found = []
    if not client.alive():
        found.append(f"engine shard {shard}: no fresh heartbeat")
    depths = _recent_queue_depths(client)
    if not depths:
        found.append(f"engine shard {shard}: no metrics in the last {FRESH_SECONDS:g} s")
    elif depths[0] > QUEUE_SETTLED and depths[0] >= depths[-1]:
        found.append(f"engine shard {shard}: queue not draining ({depths[0]:,} commands waiting)")
    failure = EngineEvent.objects.filter(shard=shard, kind__in=FAILURES, at__gt=now - QUIET_AFTER_CRASH).first()
    if failure is not None:
        found.append(f"engine shard {shard}: {failure.kind} at {failure.at:%H:%M:%S} UTC, less than a minute ago")
    return found


def _recent_queue_depths(client: EngineClient) -> list[int]:
    """Queue depths of the fresh metrics snapshots, newest first (a few seconds' worth)."""
    try:
        newest_first = client.redis.xrevrange(client.keys.metrics, count=5)
    except Exception:  # Redis down: no evidence of recovery
        return []
    depths = []
    latest_time = None
    for _, fields in newest_first:
        metrics = unpack(fields[b"m"])
        latest_time = latest_time or metrics.get("time", 0)
        depths.append(int(metrics.get("queue_depth", 0)))
    if latest_time is None or timezone.now().timestamp() - latest_time > FRESH_SECONDS:
        return []
    return depths


def alert(window: MaintenanceWindow, found: list[str]) -> None:
    """Put "verification holds" on every dashboard of the shards involved, as a critical alert."""
    message = f"{window.code} {window.title}: verification holds: {'; '.join(found)}"[:300]
    logger.warning(message)
    for shard in shards_of(window) or [settings.ENGINE_SHARD]:
        event = {
            "id": window.pk, "at": timezone.now().isoformat(), "shard": shard, "kind": "alert_fired",
            "severity": "critical", "message": message, "actor": None, "reason": "",
            "detail": {"maintenance": window.code, "problems": found},
        }  # fmt: skip
        transaction.on_commit(functools.partial(_publisher(shard).publish, "event", event))


@functools.cache
def _publisher(shard: str) -> HealthPublisher:
    return HealthPublisher(shard, shared_connection(settings.REDIS_URL))


@dataclass(frozen=True)
class BusiestHour:
    day: datetime  # the hour itself
    hour: int  # its hour of the day, UTC
    commands: int


def busiest_hour(shard: str, *, now: datetime) -> BusiestHour | None:
    """The clock hour with the most commands in the last 7 days of the shard's minute roll-ups (None: no data)."""
    hours = (
        HealthMinute.objects.filter(shard=shard, minute__gte=now - BUSY_WINDOW, minute__lt=now)
        .annotate(hour=TruncHour("minute")).values("hour").annotate(commands=Sum("commands"))
        .order_by("-commands", "-hour")
    )  # fmt: skip
    top = hours.first()
    if top is None or not top["commands"]:
        return None
    return BusiestHour(top["hour"], top["hour"].hour, int(top["commands"]))


def covers_hour(start: datetime, end: datetime, hour: int) -> bool:
    """Whether [start, end) includes any part of the hour of the day `hour` (UTC), on any day."""
    if end - start >= timedelta(days=1):
        return True
    moment = start.replace(minute=0, second=0, microsecond=0)
    while moment < end:
        if moment.hour == hour:
            return True
        moment += timedelta(hours=1)
    return False
