"""Background work of subscriptions: thin tasks taking ids; the work is in `delivery` and `services`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db import transaction

from incidents.publishing import Change
from incidents.subscriptions import delivery, services
from incidents.subscriptions.transports import TransportError

WEBHOOK_RETRY_DELAY = 30  # seconds before the second attempt; doubled each time after
WEBHOOK_MAX_RETRIES = 5  # six attempts over about a quarter of an hour
EMAIL_RETRY_DELAY = 60
# A chunk takes seconds; a claim this old belongs to a worker that died (the timeout bounds a call).
STALE_AFTER_MINUTES = 10


def backoff(base: int, retries: int) -> int:
    """Return the delay before retry number `retries + 1`: base, 2 x base, 4 x base..."""
    return base * 2**retries


def same_queue(task: Any) -> dict[str, str]:
    """Keep a notification's follow-up tasks on the queue it came from (notifications may have their own workers)."""
    routing_key = (task.request.delivery_info or {}).get("routing_key")
    return {"queue": routing_key} if routing_key else {}


def on_public_change(change: Change) -> None:
    """Enqueue the notification of a public change (the `publishing` listener; runs after commit)."""
    if change.kind not in delivery.NOTIFIED_KINDS:
        return
    if change.maintenance_id is not None:
        # Keyword arguments only here: incident messages stay as before, for workers not yet upgraded.
        args = (change.kind, None, change.update_id, None)
        kwargs = {"maintenance_id": change.maintenance_id, "notice_id": change.notice_id}
    elif change.incident_id is not None:
        args, kwargs = (change.kind, change.incident_id, change.update_id, change.postmortem_id), {}
    else:
        return
    transaction.on_commit(lambda: notify_subscribers_task.apply_async(args, kwargs))


@shared_task(bind=True, name="subscriptions.notify_subscribers", ignore_result=True)
def notify_subscribers_task(
    self: Any, kind: str, incident_id: int | None, update_id: int | None, postmortem_id: int | None,
    maintenance_id: int | None = None, notice_id: int | None = None,
) -> int:  # fmt: skip
    """Create the message's deliveries and enqueue them in chunks; return how many were queued."""
    message = delivery.message_for(kind=kind, incident_id=incident_id, update_id=update_id,
                                   postmortem_id=postmortem_id, maintenance_id=maintenance_id,
                                   notice_id=notice_id)  # fmt: skip
    if message is None:
        return 0
    email_ids, webhook_ids = delivery.fan_out(message)
    # Webhooks first: a call costs a third of an email here, and on one FIFO queue 10,000 emails
    # ahead of them kept the webhooks waiting past their 30 s bar (benchmarks/notification_fanout.py).
    for chunk in delivery.chunks(webhook_ids, delivery.WEBHOOK_CHUNK):
        deliver_webhooks_task.apply_async((chunk,), **same_queue(self))
    for chunk in delivery.chunks(email_ids, delivery.EMAIL_CHUNK):
        deliver_emails_task.apply_async((chunk,), **same_queue(self))
    return len(email_ids) + len(webhook_ids)


@shared_task(bind=True, name="subscriptions.deliver_emails", ignore_result=True, max_retries=10,
             default_retry_delay=EMAIL_RETRY_DELAY)  # fmt: skip
def deliver_emails_task(self: Any, delivery_ids: list[int]) -> None:
    """Send a chunk of emails over one connection; retry the unsent ones when the server is unreachable."""
    unsent = delivery.send_emails(delivery_ids)
    if unsent:
        raise self.retry(args=(unsent,), countdown=backoff(self.default_retry_delay, self.request.retries))


@shared_task(bind=True, name="subscriptions.deliver_webhooks", ignore_result=True)
def deliver_webhooks_task(self: Any, delivery_ids: list[int]) -> None:
    """Make the first attempt of a chunk of webhook calls; each retryable failure gets its own retrying task."""
    for delivery_id in delivery.send_webhooks(delivery_ids, retry_in=backoff(WEBHOOK_RETRY_DELAY, 0)):
        # retries=1: this chunk was attempt one, so the follow-up's backoff starts one step on.
        deliver_webhook_task.apply_async((delivery_id,), countdown=WEBHOOK_RETRY_DELAY, retries=1, **same_queue(self))


@shared_task(bind=True, name="subscriptions.deliver_webhook", ignore_result=True, max_retries=WEBHOOK_MAX_RETRIES,
             default_retry_delay=WEBHOOK_RETRY_DELAY)  # fmt: skip
def deliver_webhook_task(self: Any, delivery_id: int) -> None:
    """Call one webhook (a retry, or a resend); 5xx and timeouts retry with exponential backoff, 4xx never."""
    last = self.request.retries >= self.max_retries
    retry_in = None if last else backoff(self.default_retry_delay, self.request.retries)
    if delivery.send_webhooks([delivery_id], retry_in=retry_in):
        raise self.retry(countdown=retry_in)


@shared_task(name="subscriptions.requeue_stale_deliveries", ignore_result=True)
def requeue_stale_deliveries_task() -> int:
    """Send again the deliveries a dead worker left half done; return how many."""
    email_ids, webhook_ids = delivery.requeue_stale(older_than=timedelta(minutes=STALE_AFTER_MINUTES))
    for chunk in delivery.chunks(email_ids, delivery.EMAIL_CHUNK):
        deliver_emails_task.delay(chunk)
    for chunk in delivery.chunks(webhook_ids, delivery.WEBHOOK_CHUNK):
        deliver_webhooks_task.delay(chunk)
    return len(email_ids) + len(webhook_ids)


@shared_task(bind=True, name="subscriptions.send_confirmation", ignore_result=True, max_retries=5,
             default_retry_delay=EMAIL_RETRY_DELAY)  # fmt: skip
def send_confirmation_task(self: Any, subscriber_id: int, component_ids: list[int]) -> None:
    """Email a new subscriber the link that confirms the subscription."""
    try:
        services.send_confirmation(subscriber_id=subscriber_id, component_ids=component_ids)
    except TransportError as error:
        if error.permanent:
            return  # the address is refused: nothing will ever confirm it
        raise self.retry(countdown=backoff(self.default_retry_delay, self.request.retries)) from error
