"""Background tasks of post-mortems."""

from __future__ import annotations

from celery import shared_task

from incidents.postmortems.services import send_overdue_reminders


# No retry policy: an email that fails releases its item, and the next hourly run tries again.
@shared_task(name="postmortems.send_action_item_reminders", soft_time_limit=300, ignore_result=True)
def send_action_item_reminders_task() -> int:
    """Email the owners of overdue action items (once per due date); return how many were sent."""
    return send_overdue_reminders()
