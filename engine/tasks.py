"""Background tasks of the engine app."""

from __future__ import annotations

from celery import shared_task

from engine.telemetry import prune_health


@shared_task(name="engine.prune_health", soft_time_limit=300)
def prune_health_task() -> int:
    """Delete minute health rows past their 90 days; return how many went."""
    return prune_health()
