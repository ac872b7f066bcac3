"""What people do to subscriptions: subscribe, confirm, unsubscribe, and support's management of subscribers.

Every change goes through here and onto the audit log. Public actions (subscribe, confirm,
unsubscribe) need no account: their links carry a signed or random token instead.
Sending lives in `delivery`; this module only enqueues.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from console import audit
from console.models import AuditEntry
from console.permissions import Capability, can
from incidents.models import Component
from incidents.subscriptions import signing, ssrf
from incidents.subscriptions.models import Delivery, EmailSubscriber, WebhookSubscriber
from incidents.subscriptions.transports import EmailTransport

logger = logging.getLogger(__name__)

CONSOLE = AuditEntry.Source.CONSOLE
SYSTEM = AuditEntry.Source.SYSTEM
RATE_WINDOW = 600  # seconds: SUBSCRIBE_RATE_LIMIT requests per client address per window
Subscriber = EmailSubscriber | WebhookSubscriber


class RateLimited(Exception):
    """Too many subscribe requests from one client address."""


def _require(user: Any, capability: Capability = Capability.MANAGE_SUBSCRIBERS) -> None:
    if user is not None and not can(user, capability):  # None: the system itself
        raise PermissionDenied(f"Your role may not {capability.label.lower()}.")


def public_url(name: str, *args: Any) -> str:
    return f"{settings.PUBLIC_BASE_URL}{reverse(name, args=args)}"


def unsubscribe_url(subscriber: Subscriber) -> str:
    return public_url("subscriptions:unsubscribe", subscriber.token)


# -- customer emails --------------------------------------------------------------------------------


def render_email(name: str, context: dict[str, Any], *, to: str, unsubscribe: str = "") -> EmailMultiAlternatives:
    """Build the message from the `subscriptions/emails/<name>` triplet (subject, text, HTML)."""
    subject = render_to_string(f"subscriptions/emails/{name}_subject.txt", context)
    text = render_to_string(f"subscriptions/emails/{name}.txt", context)
    html = render_to_string(f"subscriptions/emails/{name}.html", context)
    # RFC 8058: mail clients show an unsubscribe button that POSTs to the link, no page in between.
    headers = {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    message = EmailMultiAlternatives(" ".join(subject.split()), text, to=[to], headers=headers if unsubscribe else {})
    message.attach_alternative(html, "text/html")
    return message


# -- subscribing by email ---------------------------------------------------------------------------


def check_rate(address: str) -> None:
    """Count a subscribe request from `address`; raise RateLimited past the limit (fails closed without Redis)."""
    key = f"subscriptions:rate:{address}"
    cache.add(key, 0, timeout=RATE_WINDOW)
    if cache.incr(key) > settings.SUBSCRIBE_RATE_LIMIT:
        raise RateLimited(address)


@transaction.atomic
def subscribe(*, email: str, components: list[Component]) -> EmailSubscriber:
    """Record the address (unconfirmed if new) and send it a confirmation link; nothing is sent before it confirms."""
    from incidents.subscriptions.tasks import send_confirmation_task

    subscriber, _ = EmailSubscriber.objects.get_or_create(email=email.strip().lower())
    # The choice travels in the signed link: a stranger typing someone's address changes nothing.
    component_ids = sorted(component.pk for component in components)
    transaction.on_commit(lambda: send_confirmation_task.delay(subscriber.pk, component_ids))
    return subscriber


def send_confirmation(*, subscriber_id: int, component_ids: list[int]) -> bool:
    """Email the confirmation link; return False when the subscriber is gone."""
    subscriber = EmailSubscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return False
    token = signing.confirmation_token(subscriber_id=subscriber.pk, component_ids=component_ids)
    context = {
        "confirm_url": public_url("subscriptions:confirm", token),
        "components": list(Component.objects.filter(pk__in=component_ids).order_by("name")),
        "hours": signing.CONFIRMATION_MAX_AGE // 3600,
        "status_url": settings.PUBLIC_BASE_URL + "/",
    }
    message = render_email("confirm", context, to=subscriber.email, unsubscribe=unsubscribe_url(subscriber))
    with EmailTransport() as transport:
        transport.send(message)
    return True


@transaction.atomic
def confirm(*, token: str) -> EmailSubscriber:
    """Confirm the subscription a link stands for, with the components chosen; raise InvalidLink for bad links."""
    subscriber_id, component_ids = signing.read_confirmation(token)
    subscriber = EmailSubscriber.objects.select_for_update().filter(pk=subscriber_id).first()
    if subscriber is None:
        raise signing.InvalidLink(expired=False)
    subscriber.confirmed_at = timezone.now()
    subscriber.unsubscribed_at = None
    subscriber.save(update_fields=["confirmed_at", "unsubscribed_at"])
    subscriber.components.set(Component.objects.filter(pk__in=component_ids))
    audit.record(actor=None, action="subscriber.confirmed", target=subscriber, source=SYSTEM,
                 after={"components": sorted(component_ids)})  # fmt: skip
    return subscriber


def subscriber_for_token(token: str) -> Subscriber | None:
    """Return the email or webhook subscriber an unsubscribe link names."""
    return (EmailSubscriber.objects.filter(token=token).first()
            or WebhookSubscriber.objects.filter(token=token).first())  # fmt: skip


@transaction.atomic
def unsubscribe(*, subscriber: Subscriber) -> None:
    """Stop every message to the subscriber (a webhook is disabled); doing it twice is harmless."""
    if isinstance(subscriber, WebhookSubscriber):
        if subscriber.enabled:
            set_webhook_enabled(webhook=subscriber, enabled=False, by=None, reason="unsubscribed by its link")
        return
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = timezone.now()
        subscriber.save(update_fields=["unsubscribed_at"])
        audit.record(actor=None, action="subscriber.unsubscribed", target=subscriber, source=SYSTEM)


# -- webhooks, managed by support -------------------------------------------------------------------


def _check_webhook_url(url: str) -> None:
    try:
        ssrf.checked_addresses(url)
    except ssrf.UnsafeTarget as refused:
        raise ValidationError({"url": [str(refused)]}) from None


@transaction.atomic
def register_webhook(
    *, url: str, contact_email: str, by: Any, secret: str = "", components: list[Component] | None = None,
    source: str = CONSOLE,
) -> WebhookSubscriber:  # fmt: skip
    """Add a webhook after checking its URL reaches a public address; an empty secret gets a random one."""
    _require(by)
    _check_webhook_url(url)
    webhook = WebhookSubscriber(url=url, contact_email=contact_email, created_by=by if by else None)
    if secret:
        webhook.secret = secret
    webhook.full_clean(exclude=["created_by"])
    webhook.save()
    webhook.components.set(components or [])
    audit.record(actor=by, action="subscriber.webhook_added", target=webhook, source=source,
                 after=audit.snapshot(webhook))  # fmt: skip
    return webhook


@transaction.atomic
def set_webhook_enabled(*, webhook: WebhookSubscriber, enabled: bool, by: Any, reason: str = "",
                        source: str = CONSOLE) -> None:  # fmt: skip
    """Enable (failures forgotten) or disable a webhook, saying why."""
    _require(by)
    before = {"enabled": webhook.enabled, "disabled_reason": webhook.disabled_reason}
    webhook.enabled = enabled
    webhook.consecutive_failures = 0 if enabled else webhook.consecutive_failures
    webhook.disabled_at = None if enabled else timezone.now()
    webhook.disabled_reason = "" if enabled else (reason or "disabled by support")
    webhook.save(update_fields=["enabled", "consecutive_failures", "disabled_at", "disabled_reason"])
    audit.record(actor=by, action="subscriber.webhook_enabled" if enabled else "subscriber.webhook_disabled",
                 target=webhook, source=source if by else SYSTEM, before=before,
                 after={"enabled": enabled, "disabled_reason": webhook.disabled_reason})  # fmt: skip


@transaction.atomic
def remove_subscriber(*, subscriber: Subscriber, by: Any, source: str = CONSOLE) -> None:
    """Delete an email or webhook subscriber; its delivery log stays, naming the recipient."""
    _require(by)
    before = audit.snapshot(subscriber)
    action = "subscriber.webhook_removed" if isinstance(subscriber, WebhookSubscriber) else "subscriber.removed"
    audit.record(actor=by, action=action, target=subscriber, source=source, before=before)
    subscriber.delete()


def disable_failing_webhook(*, webhook_id: int, reason: str) -> bool:
    """Disable a webhook that kept failing and tell its contact; return False if it was already off."""
    with transaction.atomic():
        webhook = WebhookSubscriber.objects.select_for_update().filter(pk=webhook_id, enabled=True).first()
        if webhook is None:
            return False
        set_webhook_enabled(webhook=webhook, enabled=False, by=None, reason=reason)
    context = {"webhook": webhook, "reason": reason}
    try:
        with EmailTransport() as transport:
            transport.send(render_email("webhook_disabled", context, to=webhook.contact_email))
    except Exception:  # the webhook is off either way; the console shows why
        logger.exception("webhook %s disabled, but its contact %s could not be told", webhook.pk, webhook.contact_email)
    return True


# -- the delivery log -------------------------------------------------------------------------------


@transaction.atomic
def resend(*, delivery: Delivery, by: Any, source: str = CONSOLE) -> None:
    """Queue a failed delivery again (the same row: a message still reaches a subscriber once)."""
    from incidents.subscriptions.tasks import deliver_emails_task, deliver_webhook_task

    _require(by)
    updated = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.FAILED).update(
        status=Delivery.Status.QUEUED, last_error="", next_attempt_at=None, claim=""
    )
    if not updated:
        raise ValidationError({"status": ["Only a failed delivery can be sent again."]})
    before = {"status": delivery.status, "last_error": delivery.last_error}
    audit.record(actor=by, action="subscriber.delivery_resent", target=delivery, source=source, before=before,
                 after={"status": "queued"})  # fmt: skip
    if delivery.channel == Delivery.Channel.EMAIL:
        transaction.on_commit(lambda: deliver_emails_task.delay([delivery.pk]))
    else:
        transaction.on_commit(lambda: deliver_webhook_task.delay(delivery.pk))
    delivery.refresh_from_db()
