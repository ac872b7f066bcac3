"""Live health for people: the dashboard's messages, and the stored series behind its charts.

Every message to the dashboard is one JSON text frame, versioned (`engine/health.schema.json`):

    {"v": 1, "type": "status" | "metrics" | "event", "seq": 41, "ts": 1763880000.12,
     "shard": "main", "data": {...}}

- `status` (10 a second): the supervisor's view: state, heartbeat age, restarts, uptime.
- `metrics` (every second): the worker's snapshot (`engine.worker.Worker.metrics`).
- `event`: an `EngineEvent` (`EngineEvent.as_message`).

`seq` counts a shard's messages across supervisor restarts (a Redis counter), so a client that
sees a jump knows it missed some and fills the gap from `history` (`GET /api/v1/engine/health`).
`ts` is the producer's clock when it sent the message: the dashboard shows staleness from it.

The producer serializes each message once; each web process subscribes once and sends the same
text to every socket (`engine.consumers`). Publishing never blocks the supervisor: messages go
through a loop of its own in a background thread, and are dropped while Redis is away.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import redis

from console.broadcast import Broadcaster
from engine.models import EngineEvent, HealthMinute
from engine.streams import Keys, unpack

VERSION = 1
HEALTH_GROUP = "engine.health"
MESSAGE_TYPE = "health.message"  # the channel layer message carrying one serialized frame, its kind and shard
SECOND_SERIES_KEPT = timedelta(hours=6)  # what the Redis series promises (it keeps about 7 h)
SECOND_SERIES_LONGEST = timedelta(hours=2)  # longer windows come per minute: fewer, smaller points


def sequence_key(shard: str) -> str:
    return f"{Keys(shard).prefix}:health-seq"


def frame(kind: str, shard: str, data: dict, *, seq: int) -> str:
    """Return the JSON text of one dashboard message, stamped with the time it is sent."""
    message = {"v": VERSION, "type": kind, "seq": seq, "ts": time.time(), "shard": shard, "data": data}
    return json.dumps(message, separators=(",", ":"), default=str)


class HealthPublisher:
    """Send a shard's health to every dashboard: numbered, serialized once, never blocking the caller."""

    def __init__(self, shard: str, redis_client: redis.Redis, layer: object | None = None) -> None:
        self.shard = shard
        self.redis = redis_client
        self.sender = Broadcaster(f"health-{shard}", layer)
        self.unnumbered = 0  # messages lost because Redis could not number them

    @property
    def dropped(self) -> int:
        return self.unnumbered + self.sender.dropped

    def publish(self, kind: str, data: dict) -> str | None:
        """Number and send one message; return its text, or None when it could not be sent."""
        if self.sender.layer is None:
            return None
        try:
            seq = self.redis.incr(sequence_key(self.shard))
        except redis.RedisError:
            self.unnumbered += 1
            return None
        text = frame(kind, self.shard, data, seq=seq)
        message = {"type": MESSAGE_TYPE, "text": text, "kind": kind, "shard": self.shard}
        return text if self.sender.send(HEALTH_GROUP, message) else None

    def flush(self, timeout: float = 2.0) -> None:
        """Wait until the messages published so far are sent (or `timeout` passes)."""
        self.sender.flush(timeout)

    def close(self) -> None:
        self.sender.close()


# -- the stored series ----------------------------------------------------------------------


def chart_metrics(metrics: dict) -> dict:
    """A metrics snapshot without what charts never draw (the depth of book), for history."""
    markets = {
        symbol: {key: value for key, value in market.items() if key != "depth"}
        for symbol, market in metrics["markets"].items()
    }
    return {**metrics, "markets": markets}


def history(shard: str, since: datetime, until: datetime, *, resolution: str = "auto", redis_client=None) -> dict:
    """Return a window of a shard's health: metrics snapshots and engine events, oldest first.

    One-second snapshots come from the Redis series while it holds the window (at most
    `SECOND_SERIES_LONGEST` of them); anything older or longer comes from the minute
    roll-ups, in the same shape, so a chart draws either.
    """
    now = datetime.now(tz=UTC)
    if resolution == "auto":
        recent = since >= now - SECOND_SERIES_KEPT and until - since <= SECOND_SERIES_LONGEST
        resolution = "1s" if recent and redis_client is not None else "1m"
    points = _seconds(redis_client, shard, since, until) if resolution == "1s" else _minutes(shard, since, until)
    events = EngineEvent.objects.filter(shard=shard, at__gte=since, at__lte=until).select_related("actor")
    return {
        "shard": shard,
        "since": since.timestamp(),
        "until": until.timestamp(),
        "resolution": resolution,
        "metrics": points,
        "events": [event.as_message() for event in reversed(events[:1000])],
    }


def _seconds(redis_client: redis.Redis, shard: str, since: datetime, until: datetime) -> list[dict]:
    start, end = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
    entries = redis_client.xrange(Keys(shard).metrics, f"{start}-0", f"{end}-18446744073709551615")
    points = []
    for _, fields in entries:
        try:
            points.append(chart_metrics(unpack(fields[b"m"])))
        except (KeyError, ValueError, TypeError):
            continue  # an unreadable snapshot is a gap in the chart, not an error
    return points


def _minutes(shard: str, since: datetime, until: datetime) -> list[dict]:
    rows = HealthMinute.objects.filter(shard=shard, minute__gte=since - timedelta(minutes=1), minute__lte=until)
    return [minute_metrics(row) for row in rows.order_by("minute")]


def minute_metrics(row: HealthMinute) -> dict:
    """A minute roll-up in the shape of a metrics snapshot (rates averaged over the minute)."""
    return {
        "shard": row.shard,
        "time": row.minute.timestamp() + 30,  # drawn at the middle of its minute
        "interval": 60.0,
        "commands": row.commands,
        "trades": row.trades,
        "rejected": row.rejected,
        "commands_per_s": round(row.commands / 60, 1),
        "commands_per_s_max": row.commands_per_s_max,
        "trades_per_s": round(row.trades / 60, 1),
        "latency_us": {"p50": row.latency_p50_us, "p99": row.latency_p99_us, "p999": None, "max": row.latency_max_us},
        "queue_depth": row.queue_depth_max,
        "rss_bytes": row.rss_bytes_max,
        "cpu_percent": row.cpu_percent_max,
        "restarts": row.restarts,
        "markets": {},
    }


def current_status(redis_client: redis.Redis, shard: str) -> dict | None:
    """The supervisor's latest status of a shard, or None when none is fresh."""
    try:
        raw = redis_client.get(Keys(shard).status)
    except redis.RedisError:
        return None
    return unpack(raw) if raw else None
