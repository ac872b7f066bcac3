"""Probes for load balancers: /healthz (the process answers) and /readyz (it can serve)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import redis
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from redis.backoff import NoBackoff
from redis.retry import Retry

from engine.streams import DEFAULT_SHARD, Keys, unpack

PROBE_TIMEOUT_SECONDS = 1.0


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


@contextlib.contextmanager
def probe_client() -> Iterator[redis.Redis]:
    """A Redis client for one probe, closed after it.

    No retries: a probe answers within its timeout, and a retry would only hide a sick Redis.
    """
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield client
    finally:
        client.close()


def check_redis() -> None:
    with probe_client() as client:
        client.ping()


# Each check raises when its part is not ready. Later parts (the engine) add theirs here.
READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
}


def run_checks() -> dict[str, dict[str, object]]:
    """Run every readiness check; return each one's state, time taken and error."""
    results: dict[str, dict[str, object]] = {}
    for name, check in READINESS_CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as error:  # a probe reports any failure instead of raising it
            results[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 2)
    return results


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})


def engine_heartbeat() -> dict[str, object]:
    """The engine's heartbeat age as the web tier sees it.

    Reported, not required: a console whose engine is down must keep serving (the status page,
    the incident tools), so the engine never makes this process "not ready".
    """
    shard = getattr(settings, "ENGINE_SHARD", DEFAULT_SHARD)
    try:
        with probe_client() as client:
            beat, status = client.get(Keys(shard).heartbeat), client.get(Keys(shard).status)
    except redis.RedisError as error:
        return {"shard": shard, "alive": False, "error": f"{type(error).__name__}: {error}"}
    heartbeat = unpack(beat) if beat else None
    return {
        "shard": shard,
        "alive": heartbeat is not None,
        "heartbeat_age_seconds": round(max(time.time() - heartbeat["time"], 0.0), 3) if heartbeat else None,
        "last_sequence": heartbeat["sequence"] if heartbeat else None,
        "state": unpack(status).get("state") if status else None,
    }


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    ready = all(result["ok"] for result in checks.values())
    failing = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "ready" if ready else "not_ready", "failing": failing, "checks": checks}
    body["engine"] = engine_heartbeat()
    return JsonResponse(body, status=200 if ready else 503)
