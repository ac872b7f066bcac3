"""A notification fans out in a real Celery worker: every webhook subscriber gets the message exactly once."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from incidents.models import AffectedComponent, Component, Incident, IncidentUpdate
from incidents.subscriptions.models import Delivery, WebhookSubscriber
from incidents.subscriptions.tasks import notify_subscribers_task
from tests.console.test_celery_worker import own_queue, worker_command
from tests.support.processes import child_env, running, wait_for

SUBSCRIBERS = 300


@pytest.mark.django_db(transaction=True)  # the worker is another process: it must see committed data
def test_a_worker_delivers_each_webhook_exactly_once(sink):
    # given an incident on trading and webhooks of which one in three chose deposits only
    trading, deposits = Component.objects.create(name="Trading"), Component.objects.create(name="Deposits")
    incident = Incident.objects.create(code="INC-2026-9001", title="Orders time out", created_at=timezone.now())
    AffectedComponent.objects.create(incident=incident, component=trading, status="major_outage")
    IncidentUpdate.objects.create(incident=incident, body="Investigating.", body_html="<p>Investigating.</p>")
    webhooks = WebhookSubscriber.objects.bulk_create(
        WebhookSubscriber(url=sink.url, contact_email="ops@example.com", token=f"w{n}") for n in range(SUBSCRIBERS)
    )
    for webhook in webhooks[::3]:
        webhook.components.add(deposits)
    expected = SUBSCRIBERS - len(webhooks[::3])
    env = child_env(SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS="true")
    # when the notification runs in a worker, twice (as a redelivered task would)
    with own_queue() as queue, running(worker_command(queue), env=env) as worker:
        for _ in range(2):
            notify_subscribers_task.apply_async(("incident_created", incident.pk, None, None), queue=queue)
        sent = Delivery.objects.filter(status=Delivery.Status.SENT)
        wait_for(lambda: sent.count() == expected, timeout=60, what="webhook deliveries", process=worker)
        wait_for(lambda: len(sink.requests) >= expected, timeout=10, what="sink")
    # then each matching webhook was called once, and only those
    tokens = [json.loads(request["body"])["meta"]["unsubscribe"].rstrip("/").rsplit("/", 1)[1]
              for request in sink.requests]  # fmt: skip
    assert len(tokens) == expected
    assert set(tokens) == {webhook.token for number, webhook in enumerate(webhooks) if number % 3}
    assert Delivery.objects.count() == expected
