"""Subscribers hear of maintenance: scheduled, rescheduled, reminded, started, extended, completed, cancelled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from engine.models import Market
from incidents.maintenance import engine_modes, health, services
from incidents.maintenance.models import MaintenanceUpdate, MaintenanceWindow, Notice
from incidents.subscriptions import services as subscription_services
from incidents.subscriptions import signing
from incidents.subscriptions.models import Delivery, EmailSubscriber, Message, WebhookSubscriber
from incidents.subscriptions.tasks import notify_subscribers_task
from tests.incidents.maintenance.conftest import T0, schedule
from tests.incidents.subscriptions.test_webhooks import STATUSPAGE_KEYS

pytestmark = pytest.mark.django_db

SECRET = "s3cret-shared-with-the-customer"
START = T0 + timedelta(days=1)  # where `schedule` puts a window by default: 2030-03-05 12:00 UTC


@pytest.fixture
def told(eager, django_capture_on_commit_callbacks) -> Callable[[Callable[[], Any]], Any]:
    """Run a move and what follows its commit: the notification tasks, eagerly."""

    def run(move: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return move()

    return run


@pytest.fixture
def alice(db) -> EmailSubscriber:
    """Confirmed, subscribed to everything."""
    return EmailSubscriber.objects.create(email="alice@example.com", confirmed_at=timezone.now())


@pytest.fixture
def dora(deposits) -> EmailSubscriber:
    """Confirmed, subscribed to deposits only."""
    subscriber = EmailSubscriber.objects.create(email="dora@example.com", confirmed_at=timezone.now())
    subscriber.components.set([deposits])
    return subscriber


@pytest.fixture
def webhook(allow_private, sink, support) -> WebhookSubscriber:
    return subscription_services.register_webhook(url=sink.url, contact_email="ops@customer.example", by=support,
                                                  secret=SECRET)  # fmt: skip


@pytest.fixture
def filtered_webhook(allow_private, sink, support, deposits) -> WebhookSubscriber:
    """A second webhook on the same sink, for deposits only: its calls would show up in the sink."""
    return subscription_services.register_webhook(url=sink.url + "?deposits", contact_email="ops@example.com",
                                                  by=support, components=[deposits])  # fmt: skip


def subjects(subscriber: EmailSubscriber) -> list[str]:
    return [message.subject for message in mail.outbox if message.to == [subscriber.email]]


def emails_to(subscriber: EmailSubscriber) -> list[Any]:
    return [message for message in mail.outbox if message.to == [subscriber.email]]


def signed(request: dict) -> bool:
    headers = request["headers"]
    return signing.verify_webhook(secret=SECRET, timestamp=headers[signing.TIMESTAMP_HEADER], body=request["body"],
                                  header=headers[signing.SIGNATURE_HEADER])  # fmt: skip


def scheduled_window(told, commander, trading, **options) -> MaintenanceWindow:
    return told(lambda: schedule(commander, [trading], **options))


def test_scheduling_a_window_emails_each_matching_subscriber_once_and_calls_each_webhook(
    alice, dora, webhook, filtered_webhook, sink, told, commander, trading
):
    scheduled_window(told, commander, trading)
    assert subjects(alice) == ["[Scheduled maintenance] Database upgrade, 2030-03-05 12:00 UTC"]
    assert subjects(dora) == []  # filtered to deposits: the window is on trading only
    (request,) = sink.requests  # the deposits-only webhook was not called
    assert request["path"] == "/hooks/status"
    assert signed(request)
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 2


def test_each_move_of_the_window_is_told_once_and_verifying_is_not(
    alice, dora, webhook, filtered_webhook, sink, told, commander, trading
):
    pending = EmailSubscriber.objects.create(email="pending@example.com")  # never confirmed
    window = scheduled_window(told, commander, trading)
    told(lambda: services.start_window(window=window, by=commander, now=START - timedelta(minutes=30)))
    told(lambda: services.extend_window(window=window, until=START + timedelta(hours=3), by=commander,
                                        now=START + timedelta(hours=1)))  # fmt: skip
    # Ending verifies at once (no engine markets): verifying, then completed.
    told(lambda: services.end_window(window=window, by=commander, now=START + timedelta(hours=2)))
    assert [update.kind for update in window.updates.all()] == [
        "scheduled", "started", "extended", "verifying", "completed"]  # fmt: skip
    assert subjects(alice) == [
        "[Scheduled maintenance] Database upgrade, 2030-03-05 12:00 UTC",
        "[Maintenance started] Database upgrade",
        "[Maintenance extended] Database upgrade, until 2030-03-05 15:00 UTC",
        "[Maintenance completed] Database upgrade",
    ]
    assert subjects(dora) == subjects(pending) == []
    assert [body["incident"]["status"] for body in sink.bodies()] == ["scheduled", "in_progress", "in_progress",
                                                                      "completed"]  # fmt: skip
    assert all(signed(request) and request["path"] == "/hooks/status" for request in sink.requests)
    assert not Message.objects.filter(kind="maintenance_verifying").exists()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_verifying_window_sends_nothing_until_it_completes(alice, webhook, sink, told, commander, trading,
                                                            monkeypatch):  # fmt: skip
    monkeypatch.setattr(health, "problems", lambda window, now=None: ["engine shard a: queue not draining"])
    window = scheduled_window(told, commander, trading)
    told(lambda: services.tick(now=START))
    told(lambda: services.tick(now=START + timedelta(hours=2)))
    window.refresh_from_db()
    assert window.status == MaintenanceWindow.Status.VERIFYING
    verifying = window.updates.get(kind="verifying")
    assert notify_subscribers_task("maintenance_verifying", None, verifying.pk, None, maintenance_id=window.pk) == 0
    assert len(subjects(alice)) == 2
    assert len(sink.requests) == 2
    told(lambda: services.complete_window(window=window, by=commander, reason="checked by hand",
                                          now=START + timedelta(hours=3)))  # fmt: skip
    assert subjects(alice)[-1] == "[Maintenance completed] Database upgrade"
    assert sink.bodies()[-1]["incident"]["status"] == "completed"


def test_a_cancelled_window_is_told_cancelled(alice, webhook, sink, told, commander, trading):
    window = scheduled_window(told, commander, trading)
    told(lambda: services.cancel_window(window=window, by=commander, reason="vendor postponed", now=T0))
    cancelled = emails_to(alice)[-1]
    assert cancelled.subject == "[Maintenance cancelled] Database upgrade"
    assert "This maintenance has been cancelled" in cancelled.body
    assert "Status: Cancelled" in cancelled.body
    found = sink.bodies()[-1]["incident"]
    # Statuspage's maintenances end completed, whatever happened: the update says it was cancelled.
    assert (found["status"], found["started_at"]) == ("completed", None)
    assert found["resolved_at"] == "2030-03-04T12:00:00.000Z"
    assert found["incident_updates"][0]["status"] == "completed"
    assert found["incident_updates"][0]["body"] == "The scheduled maintenance has been cancelled."
    assert "vendor postponed" not in cancelled.body + cancelled.alternatives[0][0]


def test_rescheduling_tells_the_new_times(alice, told, commander, trading):
    window = scheduled_window(told, commander, trading)
    later = START + timedelta(days=2)
    told(lambda: services.reschedule_window(window=window, by=commander, scheduled_for=later,
                                            scheduled_until=later + timedelta(hours=1), now=T0))  # fmt: skip
    moved = emails_to(alice)[-1]
    assert moved.subject == "[Maintenance rescheduled] Database upgrade, now 2030-03-07 12:00 UTC"
    assert "When: 2030-03-07 12:00 UTC to 2030-03-07 13:00 UTC" in moved.body


def test_the_email_says_what_when_where_and_links_the_page_and_unsubscribe(alice, told, commander, trading):
    scheduled_window(told, commander, trading, title="Upgrade <script>alert(1)</script>",
                     description="Orders can be **cancelled** but not placed.")  # fmt: skip
    (email,) = emails_to(alice)
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "When: 2030-03-05 12:00 UTC to 2030-03-05 14:00 UTC" in email.body
    assert "Affected: BTC-USD trading" in email.body
    assert "Maintenance is scheduled from 2030-03-05 12:00 UTC to 2030-03-05 14:00 UTC." in email.body
    assert "Orders can be **cancelled** but not placed." in email.body
    assert "<strong>cancelled</strong>" in html
    assert "Upgrade &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    page = "http://127.0.0.1:8000/maintenance/MNT-2030-0001/"
    unsubscribe = f"http://127.0.0.1:8000/subscriptions/unsubscribe/{alice.token}/"
    for text in (email.body, html):
        assert page in text
        assert unsubscribe in text
        assert "Status page" in text
    assert email.extra_headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in email.message().as_string()


def test_the_webhook_gets_the_window_as_statuspages_maintenance_incident(webhook, sink, told, commander, trading):
    window = scheduled_window(told, commander, trading, auto_complete=False)
    told(lambda: services.tick(now=START))
    scheduled, started = sink.bodies()
    assert set(started) == {"meta", "page", "incident"}
    assert started["meta"]["unsubscribe"].endswith(f"/subscriptions/unsubscribe/{webhook.token}/")
    assert started["page"]["status_indicator"] == "maintenance"
    found = started["incident"]
    assert STATUSPAGE_KEYS["incident"] <= set(found)
    assert STATUSPAGE_KEYS["update"] <= set(found["incident_updates"][0])
    assert STATUSPAGE_KEYS["component"] <= set(found["components"][0])
    assert (found["id"], found["name"], found["status"], found["impact"]) == (
        window.code, "Database upgrade", "in_progress", "maintenance")  # fmt: skip
    assert (found["scheduled_for"], found["scheduled_until"]) == ("2030-03-05T12:00:00.000Z",
                                                                  "2030-03-05T14:00:00.000Z")  # fmt: skip
    assert (found["scheduled_auto_in_progress"], found["scheduled_auto_completed"]) == (True, False)
    assert found["scheduled_remind_prior"] is True
    assert found["started_at"] == "2030-03-05T12:00:00.000Z"
    assert found["shortlink"] == f"http://127.0.0.1:8000/maintenance/{window.code}/"
    assert [(c["name"], c["status"]) for c in found["components"]] == [("BTC-USD trading", "under_maintenance")]
    assert [update["status"] for update in found["incident_updates"]] == ["in_progress", "scheduled"]  # newest first
    assert found["incident_updates"][0]["incident_id"] == window.code
    assert scheduled["incident"]["status"] == "scheduled"
    assert scheduled["incident"]["incident_updates"][0]["body"].startswith("Maintenance is scheduled from")


def test_no_internal_data_reaches_emails_or_webhooks(alice, webhook, sink, told, commander, trading, monkeypatch):
    eth = Market.objects.create(symbol="ETH-USD", shard="maintenance-test-nobody", band_bps=None)
    monkeypatch.setattr(engine_modes, "switch", lambda market, mode, **_: engine_modes.Outcome(True, previous="open"))
    monkeypatch.setattr(health, "problems", lambda window, now=None: ["engine shard S9: heartbeat-secret missing"])
    window = scheduled_window(told, commander, trading, actions={eth: "halted"})
    told(lambda: services.start_window(window=window, by=commander, now=START))
    told(lambda: services.end_window(window=window, by=commander, now=START + timedelta(hours=2)))
    told(lambda: services.complete_window(window=window, by=commander, reason="overruled-by-cora",
                                          now=START + timedelta(hours=3)))  # fmt: skip
    assert window.events.filter(kind="engine_switched").exists()  # the internal log has it all...
    texts = [email.body + email.alternatives[0][0] + email.subject for email in mail.outbox]
    texts += [request["body"].decode() for request in sink.requests]
    assert len(texts) == 2 * 3  # scheduled, started, completed; to one address and one webhook
    for text in texts:  # ... and none of it goes out
        for internal in ("ETH-USD", "halted", "cancel_only", "engine_switched", "heartbeat-secret",
                         "overruled-by-cora", commander.username, "verification", "previous_mode"):  # fmt: skip
            assert internal not in text


# -- advance notices --------------------------------------------------------------------------------


def reminder_subjects(subscriber: EmailSubscriber) -> list[str]:
    return [subject for subject in subjects(subscriber) if subject.startswith("[Maintenance reminder]")]


def around(moment, *, nodes: int = 2) -> list:
    """The moments beat ticks near `moment`, each on `nodes` nodes: just before, at, and a few minutes after."""
    return [moment + timedelta(minutes=offset) for offset in (-1, 0, 1, 2, 30) for _ in range(nodes)]


def test_advance_notices_go_out_once_each_whatever_ticks_them(alice, dora, webhook, sink, told, commander, trading):
    window = scheduled_window(told, commander, trading, start=T0 + timedelta(days=4))
    assert window.notice_hours == [72, 24, 1]
    for hours in (72, 24, 1):
        for moment in around(window.scheduled_for - timedelta(hours=hours)):
            told(lambda moment=moment: services.tick(now=moment))
    assert reminder_subjects(alice) == [
        "[Maintenance reminder] Database upgrade starts in 72 hours",
        "[Maintenance reminder] Database upgrade starts in 24 hours",
        "[Maintenance reminder] Database upgrade starts in 1 hour",
    ]
    assert "This maintenance starts in 1 hour, at 2030-03-08 12:00 UTC." in emails_to(alice)[-1].body
    assert subjects(dora) == []
    bodies = sink.bodies()
    assert len(bodies) == 4  # scheduled, then the three reminders
    last_notice = Notice.objects.get(window=window, hours_before=1)
    assert bodies[-1]["incident"]["scheduled_reminded_at"] == f"{last_notice.at:%Y-%m-%dT%H:%M:%S}.000Z"
    assert bodies[0]["incident"]["scheduled_reminded_at"] is None


def test_running_the_notify_task_again_sends_nothing_twice(alice, webhook, sink, told, commander, trading):
    window = scheduled_window(told, commander, trading)
    notice = told(lambda: services.send_due_notice(window, now=START - timedelta(hours=1)))
    started = told(lambda: services.start_window(window=window, by=commander, now=START))
    scheduled, update = MaintenanceUpdate.objects.filter(window=started).order_by("at", "id")
    for _ in range(2):  # a redelivered task, twice
        notify_subscribers_task("maintenance_reminder", None, None, None, maintenance_id=window.pk,
                                notice_id=notice.pk)  # fmt: skip
        notify_subscribers_task("maintenance_started", None, update.pk, None, maintenance_id=window.pk)
    assert subjects(alice) == ["[Scheduled maintenance] Database upgrade, 2030-03-05 12:00 UTC",
                               "[Maintenance reminder] Database upgrade starts in 1 hour",
                               "[Maintenance started] Database upgrade"]  # fmt: skip
    assert len(sink.requests) == 3
    assert sorted(Message.objects.values_list("key", flat=True)) == sorted([
        f"maintenance_reminder:{window.pk}::{notice.pk}", f"maintenance_scheduled:{window.pk}:{scheduled.pk}:",
        f"maintenance_started:{window.pk}:{update.pk}:",
    ])  # fmt: skip


def test_a_window_scheduled_two_hours_ahead_sends_only_the_one_hour_notice(alice, told, commander, trading):
    window = scheduled_window(told, commander, trading, start=T0 + timedelta(hours=2))
    for minutes in range(0, 120, 5):
        told(lambda minutes=minutes: services.tick(now=T0 + timedelta(minutes=minutes)))
        told(lambda minutes=minutes: services.tick(now=T0 + timedelta(minutes=minutes)))  # a second node
    assert reminder_subjects(alice) == ["[Maintenance reminder] Database upgrade starts in 1 hour"]
    assert window.notices.count() == 1


def test_a_reminder_made_moot_before_its_task_ran_is_not_sent(alice, quiet, commander, trading):
    window = schedule(commander, [trading])
    notice = services.send_due_notice(window, now=START - timedelta(hours=1))
    services.cancel_window(window=window, by=commander, now=START - timedelta(minutes=59))
    sent = notify_subscribers_task("maintenance_reminder", None, None, None, maintenance_id=window.pk,
                                   notice_id=notice.pk)  # fmt: skip
    assert sent == 0
    assert mail.outbox == []
