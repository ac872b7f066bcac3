"""Background tasks of the console app."""

from __future__ import annotations

import os
import socket

from celery import shared_task
from django.db import connection
from django.utils import timezone


@shared_task(name="console.report_worker_task", soft_time_limit=10)
def report_worker_task() -> dict[str, object]:
    """Report which worker ran this and that it reached the database: a worker liveness check."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"pid": os.getpid(), "host": socket.gethostname(), "at": timezone.now().isoformat(), "database": "ok"}
