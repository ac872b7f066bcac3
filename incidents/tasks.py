"""Background tasks of the incidents app."""

from __future__ import annotations

from celery import shared_task

from incidents.alerts import evaluate
from incidents.evidence import record_engine_events


@shared_task(name="incidents.evaluate_alert_rules", soft_time_limit=10, expires=4, ignore_result=True)
def evaluate_alert_rules_task() -> int:
    """Evaluate every alert rule once; return how many alerts fired or cleared."""
    return len(evaluate())


@shared_task(name="incidents.record_engine_events", soft_time_limit=10, expires=8, ignore_result=True)
def record_engine_events_task() -> int:
    """Copy new engine events onto the timelines of the incidents they happened during."""
    return record_engine_events()
