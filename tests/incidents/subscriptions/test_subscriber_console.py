"""Support's subscriber pages: the role matrix, managing webhooks, the delivery log and resending."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from console.models import AuditEntry
from incidents.subscriptions import services
from incidents.subscriptions.models import Delivery, EmailSubscriber, WebhookSubscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook(allow_private, sink, support) -> WebhookSubscriber:
    return services.register_webhook(url=sink.url, contact_email="ops@customer.example", by=support)


@pytest.fixture
def pages(webhook) -> list[str]:
    email = EmailSubscriber.objects.create(email="alice@example.com")
    names = ["subscribers:list", "subscribers:deliveries", "subscribers:add_webhook"]
    return [reverse(name) for name in names] + [
        reverse("subscribers:webhook", args=[webhook.pk]), reverse("subscribers:email", args=[email.pk])
    ]  # fmt: skip


@pytest.mark.parametrize(("name", "expected"), [("outsider", 403), ("viewer", 403), ("support", 200),
                                                ("commander", 200), ("admin", 200)])  # fmt: skip
def test_the_pages_are_for_support_and_up(client, persona, pages, name, expected):
    client.force_login(persona(name))
    assert [client.get(page).status_code for page in pages] == [expected] * len(pages)


def test_anonymous_visitors_are_sent_to_the_login_page(client, pages):
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", ["viewer", "outsider"])
def test_changes_are_refused_below_support(client, persona, webhook, name):
    client.force_login(persona(name))
    assert client.post(reverse("subscribers:disable_webhook", args=[webhook.pk])).status_code == 403
    assert client.post(reverse("subscribers:remove_webhook", args=[webhook.pk])).status_code == 403
    webhook.refresh_from_db()
    assert webhook.enabled


def test_support_adds_a_webhook_and_it_is_audited(client, support, allow_private, sink, trading):
    client.force_login(support)
    response = client.post(reverse("subscribers:add_webhook"), {
        "url": sink.url, "contact_email": "ops@customer.example", "components": [trading.pk]})  # fmt: skip
    webhook = WebhookSubscriber.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("subscribers:webhook", args=[webhook.pk])
    assert list(webhook.components.all()) == [trading]
    assert len(webhook.secret) >= 24
    entry = AuditEntry.objects.get(action="subscriber.webhook_added")
    assert entry.actor == support
    assert "secret" not in entry.after
    assert client.get(response["Location"]).content.count(webhook.secret.encode()) == 1


def test_a_private_url_is_refused_on_the_form(client, support):
    client.force_login(support)
    response = client.post(reverse("subscribers:add_webhook"),
                           {"url": "http://169.254.169.254/latest/", "contact_email": "ops@example.com"})  # fmt: skip
    assert response.status_code == 400
    assert b"link-local" in response.content
    assert not WebhookSubscriber.objects.exists()


def test_support_disables_enables_and_removes_a_webhook(client, support, webhook):
    client.force_login(support)
    client.post(reverse("subscribers:disable_webhook", args=[webhook.pk]), {"reason": "customer asked"})
    webhook.refresh_from_db()
    assert not webhook.enabled
    assert webhook.disabled_reason == "customer asked"
    client.post(reverse("subscribers:enable_webhook", args=[webhook.pk]))
    webhook.refresh_from_db()
    assert webhook.enabled
    assert webhook.consecutive_failures == 0
    client.post(reverse("subscribers:remove_webhook", args=[webhook.pk]))
    assert not WebhookSubscriber.objects.exists()
    actions = list(
        AuditEntry.objects.filter(action__startswith="subscriber.webhook_")
        .order_by("at", "id")
        .values_list("action", flat=True)
    )
    assert actions[-3:] == ["subscriber.webhook_disabled", "subscriber.webhook_enabled", "subscriber.webhook_removed"]


def test_the_list_filters_subscribers(client, support, webhook):
    EmailSubscriber.objects.create(email="pending@example.com")
    client.force_login(support)
    response = client.get(reverse("subscribers:list"), {"state": "pending"})
    assert b"pending@example.com" in response.content
    assert webhook.url.encode() not in response.content
    assert client.get(reverse("subscribers:list"), {"state": "bogus"}).status_code == 400


def test_a_failed_delivery_is_logged_and_resent(client, support, webhook, sink, eager, declare,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    # given a delivery the receiver refused
    sink.codes = [400]
    declare()
    failed = Delivery.objects.get()
    client.force_login(support)
    log = client.get(reverse("subscribers:deliveries"), {"status": "failed"})
    assert b"HTTP 400" in log.content
    assert b"Resend" in log.content
    # when support resends it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("subscribers:resend", args=[failed.pk]))
    # then it is sent (the same row: still one delivery of this message to this webhook)
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.response_code) == ("sent", 2, 200)
    assert len(sink.requests) == 2
    assert AuditEntry.objects.filter(action="subscriber.delivery_resent", actor=support).exists()


def test_only_a_failed_delivery_can_be_resent(client, support, webhook, sink, eager, declare):
    declare()
    sent = Delivery.objects.get()
    client.force_login(support)
    response = client.post(reverse("subscribers:resend", args=[sent.pk]), follow=True)
    assert b"Only a failed delivery can be sent again." in response.content
    assert len(sink.requests) == 1


def test_a_failed_email_is_resent(client, support, eager, declare, trading, django_capture_on_commit_callbacks):
    from django.utils import timezone

    subscriber = EmailSubscriber.objects.create(email="carol@example.com", confirmed_at=timezone.now())
    declare()
    row = Delivery.objects.get(channel="email")
    Delivery.objects.filter(pk=row.pk).update(status="failed", last_error="SMTP 550")
    mail.outbox.clear()
    client.force_login(support)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("subscribers:resend", args=[row.pk]))
    assert [message.to for message in mail.outbox] == [[subscriber.email]]
    row.refresh_from_db()
    assert row.status == "sent"
