"""Fan-out and sending: one Delivery row per (subscriber, message), claimed before it is sent, so once only.

`fan_out` turns a public change into a `Message` and its deliveries in a few bulk queries;
the tasks then send chunks: emails over one SMTP connection per chunk, webhooks from a few
threads over kept-alive connections. A webhook failing with a retryable error is retried by
its own task with exponential backoff; a webhook whose messages keep failing is disabled.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from incidents.maintenance.models import MaintenanceUpdate, MaintenanceWindow, Notice
from incidents.models import Incident
from incidents.postmortems.models import Postmortem
from incidents.subscriptions import payloads, services, signing
from incidents.subscriptions.models import Delivery, EmailSubscriber, Message, WebhookSubscriber
from incidents.subscriptions.transports import EmailTransport, TransportError, WebhookTransport

logger = logging.getLogger(__name__)

# Never component_changed, incident_changed nor maintenance_verifying (its completion message follows).
NOTIFIED_KINDS = frozenset(Message.Kind.values)
EMAIL_CHUNK = 100
WEBHOOK_CHUNK = 100
WEBHOOK_THREADS = 16
DISABLE_AFTER = 5  # consecutive messages a webhook failed (after their retries) before it is disabled
Status = Delivery.Status
Channel = Delivery.Channel


# -- fan-out ----------------------------------------------------------------------------------------


def message_for(
    *, kind: str, incident_id: int | None = None, update_id: int | None = None, postmortem_id: int | None = None,
    maintenance_id: int | None = None, notice_id: int | None = None,
) -> Message | None:  # fmt: skip
    """Return the message for a public change (made once), or None when nothing public is to be said."""
    if maintenance_id is not None:
        key = f"{kind}:{maintenance_id}:{update_id or ''}:{notice_id or ''}"
    else:
        key = f"{kind}:{incident_id}:{update_id or ''}:{postmortem_id or ''}"
    found = Message.objects.filter(key=key).first()
    if found is not None or kind not in NOTIFIED_KINDS:
        return found
    if maintenance_id is not None:
        payload = _maintenance_payload(kind, maintenance_id, update_id=update_id, notice_id=notice_id)
    else:
        payload = _incident_payload(incident_id, update_id=update_id, postmortem_id=postmortem_id)
    if payload is None:
        return None
    message, _ = Message.objects.get_or_create(key=key, defaults={
        "kind": kind, "incident_id": incident_id, "update_id": update_id, "postmortem_id": postmortem_id,
        "maintenance_id": maintenance_id, "notice_id": notice_id, "payload": payload,
    })  # fmt: skip
    return message


def _incident_payload(incident_id: int | None, *, update_id: int | None, postmortem_id: int | None) -> dict | None:
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None or not incident.is_public():
        return None
    postmortem = Postmortem.objects.filter(pk=postmortem_id).first() if postmortem_id else None
    return payloads.snapshot(incident=incident, update_id=update_id, postmortem=postmortem)


def _maintenance_payload(kind: str, window_id: int, *, update_id: int | None, notice_id: int | None) -> dict | None:
    """Return the snapshot of a maintenance change; None for a reminder the window has since made moot."""
    window = MaintenanceWindow.objects.filter(pk=window_id).first()
    if window is None:
        return None
    if kind == Message.Kind.MAINTENANCE_REMINDER:
        notice = Notice.objects.filter(pk=notice_id, window=window, skipped=False).first()
        # Started, cancelled or moved since the notice was claimed: "starts in N hours" would be wrong.
        if notice is None or window.status != window.Status.SCHEDULED or notice.scheduled_for != window.scheduled_for:
            return None
        return payloads.maintenance_snapshot(window=window, update=None, notice=notice)
    update = MaintenanceUpdate.objects.filter(pk=update_id, window=window).first()
    return None if update is None else payloads.maintenance_snapshot(window=window, update=update, notice=None)


def _matching(model: type[models.Model], component_ids: list[int]) -> models.QuerySet:
    """Subscribers who chose everything, or a component the message is about."""
    through = model.components.through
    owner = f"{model._meta.model_name}_id"
    chose_some = Exists(through.objects.filter(**{owner: OuterRef("pk")}))
    chose_these = Exists(through.objects.filter(**{owner: OuterRef("pk")}, component_id__in=component_ids))
    return model.objects.filter(~chose_some | chose_these)


def fan_out(message: Message) -> tuple[list[int], list[int]]:
    """Create the message's deliveries (once, however often called); return the queued email and webhook ids."""
    component_ids = message.payload.get("component_ids", [])
    emails = _matching(EmailSubscriber, component_ids).filter(confirmed_at__isnull=False, unsubscribed_at=None)
    webhooks = _matching(WebhookSubscriber, component_ids).filter(enabled=True)
    rows = [Delivery(message=message, channel=Channel.EMAIL, email_subscriber_id=pk, recipient=address)
            for pk, address in emails.values_list("pk", "email")]  # fmt: skip
    rows += [Delivery(message=message, channel=Channel.WEBHOOK, webhook_subscriber_id=pk, recipient=url)
             for pk, url in webhooks.values_list("pk", "url")]  # fmt: skip
    # The unique constraints make a second run (a redelivered task) add nothing.
    Delivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    queued = Delivery.objects.filter(message=message, status=Status.QUEUED).order_by("pk")
    return (list(queued.filter(channel=Channel.EMAIL).values_list("pk", flat=True)),
            list(queued.filter(channel=Channel.WEBHOOK).values_list("pk", flat=True)))  # fmt: skip


def chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


# -- claiming and recording -------------------------------------------------------------------------


def claim(ids: list[int], channel: str) -> list[Delivery]:
    """Take the still-queued deliveries among `ids` for this worker; others (sent, taken) are skipped."""
    token = uuid.uuid4().hex
    Delivery.objects.filter(pk__in=ids, channel=channel, status=Status.QUEUED).update(
        status=Status.SENDING, claim=token, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )
    subscriber = "email_subscriber" if channel == Channel.EMAIL else "webhook_subscriber"
    return list(Delivery.objects.filter(claim=token).select_related(subscriber).prefetch_related("message"))


def mark_sent(deliveries: list[Delivery], codes: dict[int, int | None]) -> None:
    """Record successful sends, one UPDATE per response code."""
    now = timezone.now()
    for code in set(codes.values()):
        ids = [delivery.pk for delivery in deliveries if codes[delivery.pk] == code]
        Delivery.objects.filter(pk__in=ids).update(status=Status.SENT, sent_at=now, response_code=code, last_error="",
                                                   next_attempt_at=None, claim="")  # fmt: skip


def mark_failed(delivery: Delivery, error: TransportError, *, retry_in: int | None = None) -> None:
    """Record a failed attempt: queued again for `retry_in` seconds from now, else failed for good."""
    retrying = retry_in is not None and not error.permanent
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.QUEUED if retrying else Status.FAILED, last_error=error.reason, response_code=error.status,
        next_attempt_at=timezone.now() + timedelta(seconds=retry_in) if retrying else None, claim="",
    )  # fmt: skip


def requeue_stale(*, older_than: timedelta) -> tuple[list[int], list[int]]:
    """Queue again the deliveries claimed long ago and never finished (their worker died mid-send).

    A message handed over just before the crash is then sent a second time: after a crash the
    guarantee is at least once; otherwise it is exactly once.
    """
    stale = Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=timezone.now() - older_than)
    ids = list(stale.values_list("pk", "channel"))
    Delivery.objects.filter(pk__in=[pk for pk, _ in ids], status=Status.SENDING).update(
        status=Status.QUEUED, claim="", last_error="requeued: its worker stopped while sending"
    )
    return ([pk for pk, channel in ids if channel == Channel.EMAIL],
            [pk for pk, channel in ids if channel == Channel.WEBHOOK])  # fmt: skip


def release(deliveries: list[Delivery]) -> None:
    """Put claimed deliveries back in the queue, unsent (the connection failed before them)."""
    Delivery.objects.filter(pk__in=[delivery.pk for delivery in deliveries], status=Status.SENDING).update(
        status=Status.QUEUED, claim="", attempts=F("attempts") - 1
    )


# -- email ------------------------------------------------------------------------------------------


def notification_email(delivery: Delivery) -> Any:
    """Build the email for one delivery from its message's public snapshot."""
    message, subscriber = delivery.message, delivery.email_subscriber
    payload = message.payload
    context = {"kind": message.kind, "incident": payload["incident"], "update": payload.get("update"),
               "postmortem_html": payload.get("postmortem_html", ""), "page": payload["page"],
               "window": payload.get("window"), "notice": payload.get("notice"),
               "unsubscribe_url": services.unsubscribe_url(subscriber),
               "status_url": payloads.public_url("/")}  # fmt: skip
    return services.render_email(message.kind, context, to=subscriber.email, unsubscribe=context["unsubscribe_url"])


def send_emails(ids: list[int]) -> list[int]:
    """Send the queued emails among `ids` over one SMTP connection; return the ids to try again later."""
    deliveries = claim(ids, Channel.EMAIL)
    live = [delivery for delivery in deliveries if _still_subscribed(delivery)]
    if not live:
        return []
    sent: list[Delivery] = []
    try:
        with EmailTransport() as transport:
            for delivery in live:
                if _send_one_email(transport, delivery):
                    sent.append(delivery)
    except TransportError as error:  # the connection broke: the rest go back in the queue
        rest = [delivery for delivery in live if delivery not in sent]
        logger.warning("SMTP failed (%s): %d emails put back in the queue", error.reason, len(rest))
        release(rest)
        return [delivery.pk for delivery in rest]
    finally:
        mark_sent(sent, dict.fromkeys((delivery.pk for delivery in sent), None))
    return []


def _still_subscribed(delivery: Delivery) -> bool:
    subscriber = delivery.email_subscriber
    if subscriber is not None and subscriber.is_active():
        return True
    mark_failed(delivery, TransportError("unsubscribed or removed before sending", permanent=True))
    return False


def _send_one_email(transport: EmailTransport, delivery: Delivery) -> bool:
    """Send one email; a refused recipient fails it alone, a broken connection stops the batch."""
    try:
        transport.send(notification_email(delivery))
    except TransportError as error:
        if not error.permanent:
            raise
        mark_failed(delivery, error)
        return False
    return True


# -- webhooks ---------------------------------------------------------------------------------------


@dataclass
class Attempt:
    delivery: Delivery
    code: int | None = None
    error: TransportError | None = None


def _call(transport: WebhookTransport, delivery: Delivery) -> Attempt:
    """POST one delivery's signed body (runs in a thread: no database access here)."""
    webhook = delivery.webhook_subscriber
    if webhook is None or not webhook.enabled:
        return Attempt(delivery, error=TransportError("webhook disabled or removed before sending", permanent=True))
    body = payloads.webhook_body(delivery.message.payload, unsubscribe_url=services.unsubscribe_url(webhook))
    headers = signing.webhook_headers(secret=webhook.secret, timestamp=int(time.time()), body=body)
    try:
        return Attempt(delivery, code=transport.post(url=webhook.url, body=body, headers=headers))
    except TransportError as error:
        return Attempt(delivery, error=error)


def send_webhooks(ids: list[int], *, retry_in: int | None) -> list[int]:
    """Call the queued webhooks among `ids` from a few threads; return the ids that failed but may be retried."""
    deliveries = claim(ids, Channel.WEBHOOK)
    if not deliveries:
        return []
    with WebhookTransport() as transport, ThreadPoolExecutor(min(WEBHOOK_THREADS, len(deliveries))) as pool:
        attempts = list(pool.map(lambda delivery: _call(transport, delivery), deliveries))
    return record_webhook_attempts(attempts, retry_in=retry_in)


def record_webhook_attempts(attempts: list[Attempt], *, retry_in: int | None) -> list[int]:
    """Record outcomes; a message failed for good counts against its webhook. Return the ids to retry."""
    succeeded = [attempt for attempt in attempts if attempt.error is None]
    mark_sent([attempt.delivery for attempt in succeeded], {a.delivery.pk: a.code for a in succeeded})
    healthy = {attempt.delivery.webhook_subscriber_id for attempt in succeeded}
    WebhookSubscriber.objects.filter(pk__in=healthy, consecutive_failures__gt=0).update(consecutive_failures=0)
    retry = []
    for attempt in attempts:
        if attempt.error is None:
            continue
        mark_failed(attempt.delivery, attempt.error, retry_in=retry_in)
        if retry_in is not None and not attempt.error.permanent:
            retry.append(attempt.delivery.pk)
        elif attempt.delivery.webhook_subscriber is not None and attempt.delivery.webhook_subscriber.enabled:
            count_failure(attempt.delivery.webhook_subscriber_id, attempt.error.reason)
    return retry


def count_failure(webhook_id: int, reason: str) -> None:
    """Count one more message the webhook failed; disable it (and tell its contact) at DISABLE_AFTER."""
    with transaction.atomic():
        WebhookSubscriber.objects.filter(pk=webhook_id).update(consecutive_failures=F("consecutive_failures") + 1)
        failures = WebhookSubscriber.objects.filter(pk=webhook_id).values_list("consecutive_failures", flat=True)
        reached = (failures.first() or 0) >= DISABLE_AFTER
    if reached:
        services.disable_failing_webhook(
            webhook_id=webhook_id, reason=f"{DISABLE_AFTER} messages in a row failed; the last: {reason}"[:300]
        )
