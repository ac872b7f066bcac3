"""Webhooks: Statuspage-shaped signed JSON, retries with backoff on 5xx, none on 4xx, disabling, exactly once."""

from __future__ import annotations

import json
import time

import pytest
from django.core import mail
from django.utils import timezone

from console.models import AuditEntry
from incidents.subscriptions import delivery, services, signing
from incidents.subscriptions.models import Delivery, WebhookSubscriber
from incidents.subscriptions.tasks import deliver_webhook_task, notify_subscribers_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook(allow_private, sink, support, trading) -> WebhookSubscriber:
    return services.register_webhook(url=sink.url, contact_email="ops@customer.example", by=support,
                                     secret="s3cret-shared-with-the-customer")  # fmt: skip


def queued_delivery(incident) -> Delivery:
    """Make the message of the incident's creation and its deliveries, without sending them."""
    message = delivery.message_for(kind="incident_created", incident_id=incident.pk, update_id=None,
                                   postmortem_id=None)  # fmt: skip
    delivery.fan_out(message)
    return Delivery.objects.get(channel="webhook")


def test_a_webhook_receives_the_incident_in_statuspages_shape(webhook, sink, eager, declare):
    incident = declare()
    (body,) = sink.bodies()
    assert set(body) == {"meta", "page", "incident"}
    assert body["meta"]["unsubscribe"].endswith(f"/subscriptions/unsubscribe/{webhook.token}/")
    assert body["meta"]["documentation"].endswith("/subscriptions/webhooks/")
    assert body["page"]["status_indicator"] == "critical"
    assert body["page"]["status_description"] == "Major System Outage"
    found = body["incident"]
    assert (found["id"], found["name"], found["status"], found["impact"]) == (
        incident.code, "Orders time out", "investigating", "critical")  # fmt: skip
    assert found["incident_updates"][0]["body"] == "We are investigating."
    assert found["incident_updates"][0]["status"] == "investigating"
    assert found["created_at"].endswith("Z")
    assert "." in found["created_at"]
    (component,) = found["components"]
    assert (component["id"], component["name"], component["status"]) == (
        str(incident.affected.get().component_id), "BTC-USD trading", "major_outage")  # fmt: skip
    assert found["incident_updates"][0]["affected_components"] == [
        {"code": component["id"], "name": "BTC-USD trading", "old_status": "operational", "new_status": "major_outage"}
    ]
    assert sink.requests[0]["path"] == "/hooks/status"
    assert sink.requests[0]["headers"]["Content-Type"] == "application/json"


# The keys of Statuspage's documented incident webhook (meta, page, incident, update, component).
STATUSPAGE_KEYS = {
    "meta": {"unsubscribe", "documentation", "generated_at"},
    "page": {"id", "status_indicator", "status_description"},
    "incident": {"name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact", "shortlink",
                 "postmortem_ignored", "postmortem_body", "postmortem_body_last_updated_at", "postmortem_published_at",
                 "postmortem_notified_subscribers", "postmortem_notified_twitter", "backfilled", "scheduled_for",
                 "scheduled_until", "scheduled_remind_prior", "scheduled_reminded_at", "impact_override",
                 "scheduled_auto_in_progress", "scheduled_auto_completed", "id", "page_id", "incident_updates",
                 "components"},
    "update": {"status", "body", "created_at", "wants_twitter_update", "twitter_updated_at", "updated_at",
               "display_at", "affected_components", "custom_tweet", "deliver_notifications", "id", "incident_id"},
    "component": {"status", "name", "updated_at", "position", "description", "showcase", "id", "page_id", "group_id"},
}  # fmt: skip


def test_the_payload_has_every_field_of_statuspages_webhook(webhook, sink, eager, declare):
    declare()
    (body,) = sink.bodies()
    assert STATUSPAGE_KEYS["meta"] <= set(body["meta"])
    assert STATUSPAGE_KEYS["page"] <= set(body["page"])
    assert STATUSPAGE_KEYS["incident"] <= set(body["incident"])
    assert STATUSPAGE_KEYS["update"] <= set(body["incident"]["incident_updates"][0])
    assert STATUSPAGE_KEYS["component"] <= set(body["incident"]["components"][0])


def test_the_signature_is_verifiable_with_the_secret(webhook, sink, eager, declare):
    declare()
    (request,) = sink.requests
    headers, body = request["headers"], request["body"]
    timestamp = headers[signing.TIMESTAMP_HEADER]
    assert abs(int(timestamp) - time.time()) < 60
    assert signing.verify_webhook(secret="s3cret-shared-with-the-customer", timestamp=timestamp, body=body,
                                  header=headers[signing.SIGNATURE_HEADER])  # fmt: skip
    assert not signing.verify_webhook(secret="another-secret", timestamp=timestamp, body=body,
                                      header=headers[signing.SIGNATURE_HEADER])  # fmt: skip
    assert not signing.verify_webhook(secret="s3cret-shared-with-the-customer", timestamp=timestamp,
                                      body=body + b" ", header=headers[signing.SIGNATURE_HEADER])  # fmt: skip


def test_internal_notes_never_reach_a_webhook(webhook, sink, eager, declare, commander,
                                              django_capture_on_commit_callbacks):  # fmt: skip
    from incidents import services as incident_services

    incident = declare()
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.add_note(incident=incident, body="SECRET root password", by=commander)
        incident_services.post_update(incident=incident, body="Fix deployed.", by=commander, status="monitoring")
    assert len(sink.requests) == 2
    assert all(b"SECRET" not in request["body"] for request in sink.requests)
    assert sink.bodies()[1]["incident"]["incident_updates"][0]["status"] == "monitoring"


def test_a_5xx_is_retried_with_exponential_backoff(webhook, quiet, sink, declare):
    sink.codes = [500, 503, 502]
    row = queued_delivery(declare())
    before = timezone.now()
    assert delivery.send_webhooks([row.pk], retry_in=30) == [row.pk]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_code, row.last_error) == ("queued", 1, 500, "HTTP 500")
    assert 29 <= (row.next_attempt_at - before).total_seconds() <= 31
    assert delivery.send_webhooks([row.pk], retry_in=60) == [row.pk]
    row.refresh_from_db()
    assert 59 <= (row.next_attempt_at - before).total_seconds() <= 62
    assert delivery.send_webhooks([row.pk], retry_in=120) == [row.pk]
    assert delivery.send_webhooks([row.pk], retry_in=240) == []
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_code, row.next_attempt_at) == ("sent", 4, 200, None)


def test_the_retrying_task_doubles_its_countdown_and_stops_after_its_last_try(webhook, quiet, sink, eager, declare):
    from celery.exceptions import Retry

    sink.codes = [500] * 10
    row = queued_delivery(declare())
    with pytest.raises(Retry) as retried:
        deliver_webhook_task.apply(args=(row.pk,), retries=2, throw=True).get()
    assert retried.value.when == 120  # 30 s x 2**2
    deliver_webhook_task.apply(args=(row.pk,), retries=deliver_webhook_task.max_retries).get()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, "HTTP 500")


def test_eager_retries_reach_the_receiver_until_it_answers(webhook, quiet, sink, eager, declare):
    sink.codes = [500, 504]
    row = queued_delivery(declare())
    deliver_webhook_task.delay(row.pk)
    row.refresh_from_db()
    assert len(sink.requests) == 3
    assert (row.status, row.attempts) == ("sent", 3)


def test_a_timeout_is_retried(webhook, quiet, sink, settings, declare):
    settings.WEBHOOK_TIMEOUT = 1
    sink.delay = 1.5
    row = queued_delivery(declare())
    assert delivery.send_webhooks([row.pk], retry_in=30) == [row.pk]
    row.refresh_from_db()
    assert row.status == "queued"
    assert "Timeout" in row.last_error


def test_a_4xx_is_final_and_not_retried(webhook, sink, eager, declare):
    sink.codes = [400]
    declare()
    row = Delivery.objects.get(channel="webhook")
    assert len(sink.requests) == 1
    assert (row.status, row.attempts, row.response_code) == ("failed", 1, 400)
    assert WebhookSubscriber.objects.get().consecutive_failures == 1


def test_repeated_failure_disables_the_webhook_and_tells_its_contact(webhook, sink, eager, declare):
    sink.codes = [410] * delivery.DISABLE_AFTER
    for number in range(delivery.DISABLE_AFTER):
        declare(title=f"Incident {number}")
    webhook.refresh_from_db()
    assert not webhook.enabled
    assert webhook.disabled_at is not None
    assert "5 messages in a row failed" in webhook.disabled_reason
    (notice,) = [message for message in mail.outbox if message.to == ["ops@customer.example"]]
    assert webhook.url in notice.subject
    assert "HTTP 410" in notice.body
    assert AuditEntry.objects.filter(action="subscriber.webhook_disabled", actor=None).exists()
    declare(title="One more")
    assert len(sink.requests) == delivery.DISABLE_AFTER  # a disabled webhook is not called


def test_a_success_resets_the_failure_count(webhook, sink, eager, declare):
    sink.codes = [400, 400]
    for number in range(3):
        declare(title=f"Incident {number}")
    webhook.refresh_from_db()
    assert webhook.enabled
    assert webhook.consecutive_failures == 0


def test_running_a_delivery_twice_sends_it_once(webhook, quiet, sink, declare):
    incident = declare()
    row = queued_delivery(incident)
    delivery.send_webhooks([row.pk], retry_in=30)
    delivery.send_webhooks([row.pk], retry_in=30)
    deliver_webhook_task.apply(args=(row.pk,))
    notify_subscribers_task("incident_created", incident.pk, None, None)
    assert len(sink.requests) == 1
    assert Delivery.objects.filter(channel="webhook").count() == 1


def test_a_webhook_filtered_to_other_components_gets_nothing(allow_private, sink, support, deposits, eager, declare):
    services.register_webhook(url=sink.url, contact_email="ops@example.com", by=support, components=[deposits])
    declare()
    assert sink.requests == []


def test_the_webhook_unsubscribe_link_disables_it(webhook, client):
    assert client.post(f"/subscriptions/unsubscribe/{webhook.token}/").status_code == 200
    webhook.refresh_from_db()
    assert not webhook.enabled
    assert webhook.disabled_reason == "unsubscribed by its link"


def test_payload_json_is_compact_and_utf8(webhook, sink, eager, declare):
    declare(title="Retards de dépôt")
    assert json.loads(sink.requests[0]["body"].decode())["incident"]["name"] == "Retards de dépôt"
