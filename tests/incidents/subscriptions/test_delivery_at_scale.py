"""Fan-out and sending cost a fixed number of queries per chunk, whatever the number of subscribers."""

from __future__ import annotations

import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.postmortems.models import Postmortem
from incidents.subscriptions import delivery
from incidents.subscriptions.models import Delivery, EmailSubscriber, Message, WebhookSubscriber
from incidents.subscriptions.tasks import deliver_emails_task, notify_subscribers_task

pytestmark = pytest.mark.django_db


class FlakyBackend(EmailBackend):
    """The outbox, except that some recipients are refused and the server may drop the connection."""

    drop_after: int | None = None

    def send_messages(self, messages):
        for message in messages:
            if "refused" in message.to[0]:
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"no such user")})
            if FlakyBackend.drop_after is not None and len(mail.outbox) >= FlakyBackend.drop_after:
                raise smtplib.SMTPServerDisconnected("connection lost")
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    yield FlakyBackend
    FlakyBackend.drop_after = None


def confirmed(count: int, **extra) -> None:
    now = timezone.now()
    EmailSubscriber.objects.bulk_create(
        EmailSubscriber(email=f"user{n}@example.com", confirmed_at=now, token=f"t{n}", **extra) for n in range(count)
    )


def message_of(incident) -> Message:
    return delivery.message_for(kind="incident_created", incident_id=incident.pk, update_id=None, postmortem_id=None)


def test_fan_out_queries_do_not_grow_with_subscribers(quiet, declare, trading):
    confirmed(300)
    WebhookSubscriber.objects.bulk_create(WebhookSubscriber(url=f"https://h{n}.example.com/", contact_email="o@e.co",
                                                            token=f"w{n}") for n in range(300))  # fmt: skip
    message = message_of(declare())
    with CaptureQueriesContext(connection) as queries:
        emails, webhooks = delivery.fan_out(message)
    assert (len(emails), len(webhooks)) == (300, 300)
    inserts = [query for query in queries if query["sql"].startswith("INSERT")]
    assert len(queries) - len(inserts) <= 5  # the subscribers, and the queued ids back
    assert len(inserts) <= 600 // 50  # multi-row inserts, in the batches the database allows


def test_a_chunk_of_emails_costs_a_fixed_number_of_queries(quiet, declare, django_assert_max_num_queries):
    confirmed(delivery.EMAIL_CHUNK)
    emails, _ = delivery.fan_out(message_of(declare()))
    with django_assert_max_num_queries(6):
        assert delivery.send_emails(emails) == []
    assert len(mail.outbox) == delivery.EMAIL_CHUNK
    assert Delivery.objects.filter(status="sent").count() == delivery.EMAIL_CHUNK


def test_a_refused_recipient_fails_alone(quiet, flaky, declare):
    confirmed(3)
    EmailSubscriber.objects.filter(email="user1@example.com").update(email="refused@example.com")
    emails, _ = delivery.fan_out(message_of(declare()))
    assert delivery.send_emails(emails) == []
    assert len(mail.outbox) == 2
    refused = Delivery.objects.get(recipient="refused@example.com")
    assert refused.status == "failed"
    assert "550" in refused.last_error


def test_a_dropped_connection_puts_the_rest_back_and_the_task_retries(quiet, flaky, declare):
    confirmed(4)
    flaky.drop_after = 2
    emails, _ = delivery.fan_out(message_of(declare()))
    assert len(delivery.send_emails(emails)) == 2
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["queued", "queued", "sent", "sent"]
    flaky.drop_after = None
    deliver_emails_task.delay(emails)  # eager: the sent ones are skipped
    assert len(mail.outbox) == 4
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_published_postmortem_is_emailed_with_its_public_summary(quiet, declare, commander):
    confirmed(1)
    incident = declare()
    postmortem = Postmortem.objects.create(
        incident=incident, status=Postmortem.Status.PUBLISHED, published_at=timezone.now(),
        window_start=incident.started_at, window_end=timezone.now(), public_summary="A **bad** index.",
        public_summary_html="<p>A <strong>bad</strong> index.</p>",
    )  # fmt: skip
    notify_subscribers_task("postmortem_published", incident.pk, None, postmortem.pk)
    (message,) = mail.outbox
    assert message.subject == "[Post-mortem] Orders time out"
    assert "A **bad** index." in message.body
    assert "<strong>bad</strong>" in message.alternatives[0][0]
    assert Message.objects.get().payload["incident"]["postmortem_body"] == "A **bad** index."


def test_component_and_silent_incident_changes_make_no_message(quiet, declare):
    confirmed(1)
    incident = declare()
    for kind in ("component_changed", "incident_changed"):
        assert notify_subscribers_task(kind, incident.pk, None, None) == 0
    assert not Message.objects.exists()
    assert mail.outbox == []


def test_deliveries_left_half_sent_by_a_dead_worker_are_sent_again(quiet, declare):
    from datetime import timedelta

    from incidents.subscriptions.tasks import requeue_stale_deliveries_task

    confirmed(2)
    emails, _ = delivery.fan_out(message_of(declare()))
    delivery.claim(emails, Delivery.Channel.EMAIL)  # a worker took them, then died
    Delivery.objects.filter(pk=emails[0]).update(claimed_at=timezone.now() - timedelta(minutes=11))
    assert requeue_stale_deliveries_task() == 1
    assert [message.to for message in mail.outbox] == [["user0@example.com"]]
    assert Delivery.objects.get(pk=emails[1]).status == "sending"  # still within its worker's time


def test_production_settings_that_would_break_links_are_reported(settings):
    from incidents.subscriptions.checks import check_public_links

    settings.PRODUCTION = True
    settings.SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS = True
    assert [message.id for message in check_public_links()] == ["subscriptions.W001", "subscriptions.W002"]
    settings.PUBLIC_BASE_URL, settings.SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS = "https://status.example.com", False
    assert check_public_links() == []
