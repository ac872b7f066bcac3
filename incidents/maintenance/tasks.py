"""Background work of maintenance windows: the scheduler's tick."""

from __future__ import annotations

import contextlib
import logging

import redis
from celery import shared_task
from django.conf import settings

from engine.client import connection
from incidents.maintenance.services import tick

logger = logging.getLogger("incidents.maintenance")

# A tick that waits on an unreachable engine (a mode change times out after 15 s) must not have
# the next ones pile up behind it: one tick at a time across every worker. The lock outlives a
# stuck tick by little, and moves are claimed in the database anyway, so losing it is harmless.
LOCK_KEY = "exc:maintenance:tick"
LOCK_SECONDS = 120


@shared_task(name="maintenance.tick", soft_time_limit=LOCK_SECONDS - 10, expires=9, ignore_result=True)
def tick_task() -> dict[str, list[str]] | None:
    """Start, end, verify and announce what is due now; None when another tick is still running."""
    try:
        lock = connection(settings.REDIS_URL).lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking=False)
        acquired = lock.acquire()
    except redis.RedisError as error:  # Redis down: the database claims still keep moves single
        logger.warning("maintenance tick without its lock: %s", error)
        return tick()
    if not acquired:
        return None
    try:
        done = tick()
    finally:
        with contextlib.suppress(redis.RedisError):
            lock.release()
    if any(done.values()):
        logger.info("maintenance: %s", {what: codes for what, codes in done.items() if codes})
    return done
