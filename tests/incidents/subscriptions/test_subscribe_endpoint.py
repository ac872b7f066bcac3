"""The public subscribe endpoint: malformed input is a 4xx with the field's message, floods get a 429."""

from __future__ import annotations

import pytest
from django.core import mail

from incidents.subscriptions.models import EmailSubscriber

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-address", "scope": "all"}, b"Enter a valid email address"),
        ({"email": "", "scope": "all"}, b"This field is required"),
        ({"email": "a@example.com" + "x" * 300, "scope": "all"}, b"at most 254 characters"),
        ({"email": "a@example.com", "scope": "sometimes"}, b"Select a valid choice"),
        ({"email": "a@example.com", "scope": "some"}, b"Choose at least one component"),
        ({"email": "a@example.com", "scope": "some", "components": ["999999"]}, b"Select a valid choice"),
        ({"email": "a@example.com", "scope": "some", "components": ["'; DROP TABLE"]}, b"is not a valid value"),
        ({}, b"This field is required"),
    ],
)
def test_malformed_input_is_refused_with_the_fields_message(client, trading, data, message):
    response = client.post("/subscriptions/", data)
    assert response.status_code == 400
    assert message in response.content
    assert not EmailSubscriber.objects.exists()
    assert mail.outbox == []


def test_other_methods_are_refused(client):
    assert client.put("/subscriptions/").status_code == 405
    assert client.delete("/subscriptions/unsubscribe/x/").status_code == 405


def test_a_flood_from_one_address_gets_a_friendly_429(client, settings, trading):
    settings.SUBSCRIBE_RATE_LIMIT = 3
    answers = [client.post("/subscriptions/", {"email": f"x{n}@example.com", "scope": "all"}).status_code
               for n in range(5)]  # fmt: skip
    assert answers == [200, 200, 200, 429, 429]
    response = client.post("/subscriptions/", {"email": "late@example.com", "scope": "all"})
    assert response["Retry-After"] == "600"
    assert b"try again in ten minutes" in response.content


def test_the_limit_counts_per_client_address(client, settings, trading):
    settings.SUBSCRIBE_RATE_LIMIT = 1
    other = "198.51.100.7"
    try:
        assert client.post("/subscriptions/", {"email": "a@example.com", "scope": "all"}).status_code == 200
        assert client.post("/subscriptions/", {"email": "b@example.com", "scope": "all"},
                           REMOTE_ADDR=other).status_code == 200  # fmt: skip
        assert client.post("/subscriptions/", {"email": "c@example.com", "scope": "all"}).status_code == 429
    finally:
        from django.core.cache import cache

        cache.delete(f"subscriptions:rate:{other}")


def test_subscribing_twice_keeps_one_subscriber_and_reveals_nothing(client, trading):
    first = client.post("/subscriptions/", {"email": "Alice@Example.com", "scope": "all"})
    second = client.post("/subscriptions/", {"email": "alice@example.com", "scope": "all"})
    assert first.status_code == second.status_code == 200
    assert EmailSubscriber.objects.count() == 1
