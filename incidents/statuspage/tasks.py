"""Background work of the public status page: re-exporting its static copy after every public change."""

from __future__ import annotations

import logging

from celery import current_app, shared_task
from kombu import Connection
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from incidents.publishing import Change
from incidents.statuspage import export

logger = logging.getLogger("incidents.statuspage.tasks")

# A queued export older than this is dropped by the worker: a newer one is queued behind it anyway.
EXPIRES_SECONDS = 600
# One attempt, a short connect timeout: with Redis down the listener falls back at once instead
# of stalling, for seconds of retries, the request whose transaction just committed.
FAIL_FAST = {"max_retries": 0, "socket_connect_timeout": 2}


@shared_task(
    name="statuspage.export_status_page", ignore_result=True, soft_time_limit=120,
    autoretry_for=(Exception,), max_retries=5, retry_backoff=2, retry_backoff_max=60, retry_jitter=True,
)  # fmt: skip
def export_status_page_task() -> str:
    """Re-render the static copy of the status page and make it current."""
    return str(export.export_status_page())


def broker_connection() -> Connection:
    """Return a new connection to the broker that gives up at the first failure."""
    return current_app.connection_for_write(transport_options=FAIL_FAST)


def export_on_change(change: Change) -> None:
    """Queue a re-export for a public change; export here and now when the broker cannot be reached."""
    try:
        with broker_connection() as connection:
            export_status_page_task.apply_async(retry=False, expires=EXPIRES_SECONDS, connection=connection)
    except (OperationalError, RedisError, OSError) as error:
        # The copy is what customers read while things are down: it must not go stale because Celery is.
        logger.warning("status export: broker unreachable (%s) after %s; exporting inline", error, change.kind)
        export.export_status_page()
