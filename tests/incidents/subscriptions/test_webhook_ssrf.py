"""Webhook targets inside our network are refused, when registered and again when called (DNS rebinding)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from incidents.subscriptions import delivery, services, ssrf
from incidents.subscriptions.models import Delivery, WebhookSubscriber

pytestmark = pytest.mark.django_db

REFUSED = [
    "http://127.0.0.1/hook",
    "http://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/hook",
    "http://localhost:8000/hook",
    "http://192.168.1.20/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://100.64.0.1/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_registering_a_private_target_is_refused(support, url):
    with pytest.raises(ValidationError) as refused:
        services.register_webhook(url=url, contact_email="ops@example.com", by=support)
    assert "public address" in str(refused.value)
    assert not WebhookSubscriber.objects.exists()


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http://user:pw@example.com/", "http:///nohost",
                                 "http://no-such-host.invalid/"])  # fmt: skip
def test_urls_no_webhook_may_have_are_refused(support, url):
    with pytest.raises(ValidationError):
        services.register_webhook(url=url, contact_email="ops@example.com", by=support)


def test_a_public_address_is_accepted():
    with mock.patch("socket.getaddrinfo", return_value=[(2, 1, 6, "", ("93.184.215.14", 443))]):
        assert ssrf.checked_addresses("https://hooks.example.com/status") == ["93.184.215.14"]


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    answers = [(2, 1, 6, "", ("93.184.215.14", 443)), (2, 1, 6, "", ("10.1.2.3", 443))]
    with mock.patch("socket.getaddrinfo", return_value=answers), pytest.raises(ssrf.UnsafeTarget):
        ssrf.checked_addresses("https://hooks.example.com/status")


def test_the_admin_switch_allows_private_targets(support, settings):
    settings.SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS = True
    webhook = services.register_webhook(url="http://127.0.0.1:9/hook", contact_email="ops@example.com", by=support)
    assert webhook.pk


def test_a_host_that_turns_private_after_registration_is_not_called(quiet, sink, support, settings, declare):
    # given a webhook registered while its host resolved to a public address
    public = [(2, 1, 6, "", ("93.184.215.14", 80))]
    with mock.patch("socket.getaddrinfo", return_value=public):
        services.register_webhook(url="http://rebind.example.com/hook", contact_email="ops@example.com", by=support)
    incident = declare()
    message = delivery.message_for(kind="incident_created", incident_id=incident.pk, update_id=None,
                                   postmortem_id=None)  # fmt: skip
    delivery.fan_out(message)
    row = Delivery.objects.get()
    # when the name now points at the machine itself (DNS rebinding)
    port = sink.server.server_address[1]
    with mock.patch("socket.getaddrinfo", return_value=[(2, 1, 6, "", ("127.0.0.1", port))]):
        assert delivery.send_webhooks([row.pk], retry_in=30) == []
    # then nothing reaches the loopback sink and the delivery failed for good, saying why
    row.refresh_from_db()
    assert sink.requests == []
    assert row.status == "failed"
    assert "127.0.0.1" in row.last_error
