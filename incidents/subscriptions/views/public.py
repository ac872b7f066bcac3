"""Public, anonymous pages: subscribe, confirm (double opt-in), one-click unsubscribe, webhook documentation.

Nothing here answers 500 for bad input: malformed forms are a 400 with the field's message,
garbled or expired links a 400 page saying what to do, too many requests a 429.
"""

from __future__ import annotations

import logging

import kombu.exceptions
import redis
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from incidents.subscriptions import payloads, services, signing
from incidents.subscriptions.forms import SubscribeForm

logger = logging.getLogger(__name__)

# Redis (the rate-limit counters and the task queue) being down: the request cannot be served.
UNAVAILABLE = (OSError, redis.RedisError, kombu.exceptions.OperationalError)


def _refusal(request: HttpRequest, template: str, *, status: int, retry_after: int) -> HttpResponse:
    response = render(request, template, status=status)
    response["Retry-After"] = str(retry_after)
    return response


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    """Show the subscribe form; a valid POST sends the confirmation link."""
    if request.method == "GET":
        return render(request, "subscriptions/subscribe.html", {"form": SubscribeForm()})
    try:
        services.check_rate(client_address(request))
    except services.RateLimited:
        return _refusal(request, "subscriptions/rate_limited.html", status=429, retry_after=services.RATE_WINDOW)
    except UNAVAILABLE:
        logger.exception("subscribe: the rate limit counter is unreachable")
        return _refusal(request, "subscriptions/unavailable.html", status=503, retry_after=60)
    return _subscribe(request, SubscribeForm(request.POST))


def _subscribe(request: HttpRequest, form: SubscribeForm) -> HttpResponse:
    if not form.is_valid():
        return render(request, "subscriptions/subscribe.html", {"form": form}, status=400)
    try:
        services.subscribe(email=form.cleaned_data["email"], components=form.chosen_components())
    except UNAVAILABLE:
        logger.exception("subscribe: the confirmation could not be queued")
        return _refusal(request, "subscriptions/unavailable.html", status=503, retry_after=60)
    # The same answer whether the address was known or not: the page reveals no subscriber.
    return render(request, "subscriptions/check_email.html", {"email": form.cleaned_data["email"]})


def _invalid_link(request: HttpRequest, error: signing.InvalidLink) -> HttpResponse:
    return render(request, "subscriptions/invalid_link.html", {"expired": error.expired}, status=400)


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (link scanners must not confirm for people); POST confirms."""
    try:
        if request.method == "GET":
            signing.read_confirmation(token)
            return render(request, "subscriptions/confirm.html", {"token": token})
        subscriber = services.confirm(token=token)
    except signing.InvalidLink as error:
        return _invalid_link(request, error)
    context = {"subscriber": subscriber, "components": subscriber.components.order_by("name")}
    return render(request, "subscriptions/confirmed.html", context)


@csrf_exempt  # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" without our form or cookies
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; POST (the button, or a mail client's one-click) unsubscribes."""
    subscriber = services.subscriber_for_token(token)
    if subscriber is None:
        return render(request, "subscriptions/invalid_link.html", {"unknown": True}, status=404)
    if request.method == "GET":
        return render(request, "subscriptions/unsubscribe.html", {"subscriber": subscriber})
    services.unsubscribe(subscriber=subscriber)
    return render(request, "subscriptions/unsubscribed.html", {"subscriber": subscriber})


def webhooks_documentation(request: HttpRequest) -> HttpResponse:
    """Explain webhook payloads and how to verify their signature."""
    context = {"signature_header": signing.SIGNATURE_HEADER, "timestamp_header": signing.TIMESTAMP_HEADER,
               "page_id": payloads.PAGE_ID}  # fmt: skip
    return render(request, "subscriptions/webhooks.html", context)
