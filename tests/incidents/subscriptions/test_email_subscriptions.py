"""Email subscribers: double opt-in, component filters, the messages they get, one-click unsubscribe."""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
from django.core import mail
from django.test import Client

from incidents import services as incident_services
from incidents.models import ComponentStatus, Incident
from incidents.subscriptions import signing
from incidents.subscriptions.models import Delivery, EmailSubscriber

pytestmark = pytest.mark.django_db


def confirmation_link(message) -> str:
    return re.search(r"http://\S+/subscriptions/confirm/\S+/", message.body).group(0)


def local(url: str) -> str:
    return url.split("8000", 1)[1]


@pytest.fixture
def subscribe(client: Client, eager, django_capture_on_commit_callbacks):
    """Subscribe through the public page; return the path of the confirmation link sent."""

    def run(email: str = "alice@example.com", **data) -> str:
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/subscriptions/", {"email": email, "scope": "all", **data})
        assert response.status_code == 200, response.content
        assert len(mail.outbox) == 1
        return local(confirmation_link(mail.outbox[0]))

    return run


@pytest.fixture
def alice(client, subscribe, trading) -> EmailSubscriber:
    """A confirmed subscriber to everything."""
    link = subscribe()
    assert client.post(link).status_code == 200
    mail.outbox.clear()
    return EmailSubscriber.objects.get(email="alice@example.com")


def test_the_subscribe_page_offers_the_components(client, trading, deposits):
    response = client.get("/subscriptions/")
    assert response.status_code == 200
    assert b"BTC-USD trading" in response.content
    assert b"Deposits" in response.content


def test_an_unconfirmed_subscriber_gets_nothing_but_the_confirmation(client, subscribe, declare):
    subscribe()
    mail.outbox.clear()
    declare()
    assert mail.outbox == []
    assert EmailSubscriber.objects.get().state() == "pending"


def test_the_confirmation_link_shows_a_button_and_confirms_on_post(client, subscribe, declare):
    link = subscribe()
    page = client.get(link)
    assert page.status_code == 200
    assert b"Confirm subscription" in page.content
    assert EmailSubscriber.objects.get().confirmed_at is None  # a link scanner's GET confirms nothing
    assert client.post(link).status_code == 200
    assert EmailSubscriber.objects.get().is_active()
    mail.outbox.clear()
    declare()
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]


def test_an_expired_confirmation_link_is_refused_with_a_clear_page(client, eager, trading):
    subscriber = EmailSubscriber.objects.create(email="late@example.com")
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 49 * 3600):
        token = signing.confirmation_token(subscriber_id=subscriber.pk, component_ids=[])
    for method in (client.get, client.post):
        response = method(f"/subscriptions/confirm/{token}/")
        assert response.status_code == 400
        assert b"expired" in response.content
    assert EmailSubscriber.objects.get().confirmed_at is None


@pytest.mark.parametrize("token", ["garbage", "eyJzIjoxLCJjIjpbXX0:1tX0aa:forgedsignature", "%ff%fe:x:y"])
def test_a_forged_or_garbled_confirmation_link_is_refused(client, eager, token):
    EmailSubscriber.objects.create(email="bob@example.com")
    response = client.post(f"/subscriptions/confirm/{token}/")
    assert response.status_code == 400
    assert b"not valid" in response.content


def test_a_link_signed_for_another_purpose_does_not_confirm(client, eager):
    subscriber = EmailSubscriber.objects.create(email="bob@example.com")
    from django.core.signing import TimestampSigner

    token = TimestampSigner().sign_object({"s": subscriber.pk, "c": []})  # right key, wrong salt
    assert client.post(f"/subscriptions/confirm/{token}/").status_code == 400


def test_a_component_filter_limits_what_a_subscriber_gets(client, subscribe, declare, trading, deposits):
    link = subscribe("dora@example.com", scope="some", components=[deposits.pk])
    client.post(link)
    link = subscribe("tom@example.com", scope="some", components=[trading.pk, deposits.pk])
    client.post(link)
    mail.outbox.clear()
    declare()
    assert [message.to for message in mail.outbox] == [["tom@example.com"]]
    assert list(EmailSubscriber.objects.get(email="dora@example.com").components.all()) == [deposits]


def test_the_incident_email_is_a_triplet_with_public_text_only(alice, declare, commander, trading,
                                                              django_capture_on_commit_callbacks):  # fmt: skip
    incident = declare(title="Orders time out <BTC>")
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.add_note(incident=incident, body="SECRET: the DB password leaked", by=commander)
        incident_services.post_update(incident=incident, body="A fix is **deployed**.", by=commander,
                                      status=Incident.Status.MONITORING)  # fmt: skip
    created, updated = mail.outbox
    assert created.subject == "[New incident] Orders time out <BTC>"
    assert updated.subject == "[Update] Orders time out <BTC>"
    html = updated.alternatives[0][0]
    assert updated.alternatives[0][1] == "text/html"
    assert "A fix is **deployed**." in updated.body
    assert "Monitoring" in updated.body
    assert "<strong>deployed</strong>" in html
    assert "Orders time out &lt;BTC&gt;" in html
    assert f"/incidents/{incident.code}/" in updated.body
    for message in mail.outbox:
        assert "SECRET" not in message.body + message.alternatives[0][0]
        assert "sev3" not in (message.body + message.alternatives[0][0]).lower()


def test_every_message_carries_one_click_unsubscribe_headers(alice, declare):
    declare()
    (message,) = mail.outbox
    url = f"http://127.0.0.1:8000/subscriptions/unsubscribe/{alice.token}/"
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in message.body
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in message.message().as_string()


def test_a_one_click_post_unsubscribes_without_a_csrf_token(alice, declare):
    mail_client = Client(enforce_csrf_checks=True)  # a mail client has no cookie and no form token
    page = mail_client.get(f"/subscriptions/unsubscribe/{alice.token}/")
    assert page.status_code == 200
    assert EmailSubscriber.objects.get().unsubscribed_at is None
    response = mail_client.post(f"/subscriptions/unsubscribe/{alice.token}/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert EmailSubscriber.objects.get().unsubscribed_at is not None
    declare()
    assert mail.outbox == []


def test_an_unknown_unsubscribe_link_is_a_friendly_404(client):
    response = client.post("/subscriptions/unsubscribe/no-such-token/")
    assert response.status_code == 404
    assert b"do not know this link" in response.content


def test_resolution_and_postmortem_are_emailed_but_not_a_bare_component_flap(
    alice, declare, commander, trading, django_capture_on_commit_callbacks
):
    incident = declare()
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.set_component_status(component=trading, status=ComponentStatus.DEGRADED_PERFORMANCE,
                                               by=commander)  # fmt: skip
        incident_services.change_visibility(incident=incident, to=Incident.Visibility.PUBLIC, by=commander)
    assert len(mail.outbox) == 1  # only the incident's creation
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.post_update(incident=incident, body="All good again.", by=commander,
                                      status=Incident.Status.RESOLVED)  # fmt: skip
    assert mail.outbox[-1].subject == "[Resolved] Orders time out"
    assert "All good again." in mail.outbox[-1].body


def test_the_same_change_is_delivered_once_even_if_its_task_runs_twice(alice, declare):
    from incidents.subscriptions.tasks import notify_subscribers_task

    incident = declare()
    notify_subscribers_task("incident_created", incident.pk, None, None)
    notify_subscribers_task("incident_created", incident.pk, None, None)
    assert len(mail.outbox) == 1
    assert Delivery.objects.get().status == Delivery.Status.SENT


def test_internal_incidents_are_never_emailed(alice, declare, commander):
    from incidents.subscriptions.tasks import notify_subscribers_task

    incident = declare(visibility=Incident.Visibility.INTERNAL)
    notify_subscribers_task("incident_created", incident.pk, None, None)
    assert mail.outbox == []
