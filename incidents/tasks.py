"""Background tasks of the incidents app."""

from __future__ import annotations

from celery import shared_task

from incidents.alerts import evaluate


@shared_task(name="incidents.evaluate_alert_rules", soft_time_limit=10, expires=4, ignore_result=True)
def evaluate_alert_rules_task() -> int:
    """Evaluate every alert rule once; return how many alerts fired or cleared."""
    return len(evaluate())
