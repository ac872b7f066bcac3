"""The public subscribe endpoint: malformed input is a 4xx with the field's message, floods get a 429."""

from __future__ import annotations

import http.cookiejar
import random
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.core import mail
from django.core.cache import cache

from incidents.subscriptions.models import EmailSubscriber
from tests.support.processes import asgi_server

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


@pytest.mark.django_db(transaction=True)
def test_behind_a_proxy_the_limit_counts_per_forwarded_client(trading):
    """uvicorn, run as `make run` runs it, takes the client from X-Forwarded-For when the proxy is trusted.

    FORWARDED_ALLOW_IPS (uvicorn's, 127.0.0.1 by default: an nginx on the same host) names the
    proxies; the rate limit then sees each customer, not the proxy's one address.
    """
    host = random.randrange(1, 255)  # keeps runs apart in the shared cache
    first, second = f"198.18.0.{host}", f"198.18.1.{host}"
    with asgi_server(SUBSCRIBE_RATE_LIMIT="1") as base_url:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(f"{base_url}/subscriptions/") as response:
            token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.read()).group(1).decode()

        def subscribe(address: str, email: str) -> int:
            form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "email": email, "scope": "all"}).encode()
            request = urllib.request.Request(f"{base_url}/subscriptions/", form, {"X-Forwarded-For": address})  # noqa: S310
            try:
                with opener.open(request) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        try:
            assert subscribe(first, "a@example.com") == 200
            assert subscribe(second, "b@example.com") == 200  # another customer behind the same proxy
            assert subscribe(first, "c@example.com") == 429
        finally:
            for address in (first, second):
                cache.delete(f"subscriptions:rate:{address}")
