"""Support's pages: subscribers (email and webhook), their delivery logs, the global log, resend.

Every object is loaded through an access-checked getter; every change goes through `services`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from console.permissions import Capability, can, capability_required
from incidents.subscriptions import services
from incidents.subscriptions.forms import DeliveryFilterForm, SubscriberFilterForm, WebhookForm
from incidents.subscriptions.models import Delivery, EmailSubscriber, WebhookSubscriber

PAGE_SIZE = 50
MANAGE = Capability.MANAGE_SUBSCRIBERS


def _check(user: Any) -> None:
    if not can(user, MANAGE):
        raise PermissionDenied(f"Your role may not {MANAGE.label.lower()}.")


def get_webhook_for(user: Any, pk: int) -> WebhookSubscriber:
    """Load a webhook the user may manage: 403 without the right, 404 when unknown."""
    _check(user)
    return get_object_or_404(WebhookSubscriber.objects.select_related("created_by"), pk=pk)


def get_email_subscriber_for(user: Any, pk: int) -> EmailSubscriber:
    _check(user)
    return get_object_or_404(EmailSubscriber, pk=pk)


def get_delivery_for(user: Any, pk: int) -> Delivery:
    _check(user)
    return get_object_or_404(Delivery.objects.select_related("message"), pk=pk)


def page_of(request: HttpRequest, found: QuerySet, name: str = "page") -> Page:
    return Paginator(found, PAGE_SIZE).get_page(request.GET.get(name))


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


# -- subscribers ------------------------------------------------------------------------------------


def filtered_subscribers(data: dict[str, Any]) -> tuple[QuerySet, QuerySet]:
    """The email subscribers and webhooks the list's filters select."""
    emails = EmailSubscriber.objects.prefetch_related("components")
    webhooks = WebhookSubscriber.objects.prefetch_related("components")
    if data.get("q"):
        emails = emails.filter(email__icontains=data["q"])
        webhooks = webhooks.filter(Q(url__icontains=data["q"]) | Q(contact_email__icontains=data["q"]))
    state = data.get("state")
    if state == "active":
        emails, webhooks = (
            emails.filter(confirmed_at__isnull=False, unsubscribed_at=None),
            webhooks.filter(enabled=True),
        )
    elif state == "pending":
        emails, webhooks = emails.filter(confirmed_at=None, unsubscribed_at=None), webhooks.none()
    elif state == "unsubscribed":
        emails, webhooks = emails.exclude(unsubscribed_at=None), webhooks.filter(enabled=False)
    return emails, webhooks


@capability_required(MANAGE)
def subscriber_list(request: HttpRequest) -> HttpResponse:
    """List webhooks and email subscribers, with filters."""
    form = SubscriberFilterForm(request.GET or None)
    valid = form.is_valid()
    emails, webhooks = filtered_subscribers(form.cleaned_data if valid else {})
    context = {"form": form, "webhooks": page_of(request, webhooks, "wpage"), "emails": page_of(request, emails),
               "query": _query_without(request, "page", "wpage"),
               "counts": {"emails": emails.count(), "webhooks": webhooks.count()}}  # fmt: skip
    return render(
        request, "subscriptions/console/list.html", context, status=200 if valid or not form.is_bound else 400
    )


@capability_required(MANAGE)
def add_webhook(request: HttpRequest) -> HttpResponse:
    """Register a webhook: its URL is checked to reach a public address."""
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            webhook = services.register_webhook(url=data["url"], contact_email=data["contact_email"], by=request.user,
                                                secret=data["secret"], components=list(data["components"]))  # fmt: skip
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Webhook added. Give its secret to the customer.")
            return redirect("subscribers:webhook", webhook.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "subscriptions/console/webhook_form.html", {"form": form}, status=status)


@capability_required(MANAGE)
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a webhook, its state and its delivery log."""
    webhook = get_webhook_for(request.user, pk)
    deliveries = webhook.deliveries.select_related("message")
    context = {"webhook": webhook, "deliveries": page_of(request, deliveries)}
    return render(request, "subscriptions/console/webhook.html", context)


@capability_required(MANAGE)
def email_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show an email subscriber and its delivery log."""
    subscriber = get_email_subscriber_for(request.user, pk)
    context = {
        "subscriber": subscriber,
        "deliveries": page_of(request, subscriber.deliveries.select_related("message")),
    }
    return render(request, "subscriptions/console/email.html", context)


@capability_required(MANAGE)
@require_POST
def set_webhook_enabled(request: HttpRequest, pk: int, enabled: bool) -> HttpResponse:
    """Enable or disable a webhook."""
    webhook = get_webhook_for(request.user, pk)
    services.set_webhook_enabled(webhook=webhook, enabled=enabled, by=request.user,
                                 reason=request.POST.get("reason", "").strip()[:300])  # fmt: skip
    messages.success(request, f"Webhook {'enabled' if enabled else 'disabled'}.")
    return redirect("subscribers:webhook", webhook.pk)


@capability_required(MANAGE)
@require_POST
def remove_webhook(request: HttpRequest, pk: int) -> HttpResponse:
    services.remove_subscriber(subscriber=get_webhook_for(request.user, pk), by=request.user)
    messages.success(request, "Webhook removed; its delivery log stays.")
    return redirect("subscribers:list")


@capability_required(MANAGE)
@require_POST
def remove_email(request: HttpRequest, pk: int) -> HttpResponse:
    services.remove_subscriber(subscriber=get_email_subscriber_for(request.user, pk), by=request.user)
    messages.success(request, "Email subscriber removed; its delivery log stays.")
    return redirect("subscribers:list")


# -- the delivery log -------------------------------------------------------------------------------


def filtered_deliveries(data: dict[str, Any]) -> QuerySet:
    found = Delivery.objects.select_related("message")
    exact = {name: data.get(name) for name in ("status", "channel")}
    found = found.filter(**{name: value for name, value in exact.items() if value})
    if data.get("q"):
        found = found.filter(recipient__icontains=data["q"])
    return found


@capability_required(MANAGE)
def delivery_log(request: HttpRequest) -> HttpResponse:
    """Every delivery, newest first, filtered by status, channel and recipient."""
    form = DeliveryFilterForm(request.GET or None)
    valid = form.is_valid()
    context = {"form": form, "deliveries": page_of(request, filtered_deliveries(form.cleaned_data if valid else {})),
               "query": _query_without(request, "page")}  # fmt: skip
    return render(
        request, "subscriptions/console/deliveries.html", context, status=200 if valid or not form.is_bound else 400
    )


@capability_required(MANAGE)
@require_POST
def resend(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a failed delivery again."""
    delivery = get_delivery_for(request.user, pk)
    try:
        services.resend(delivery=delivery, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Delivery to {delivery.recipient} queued again.")
    return redirect(request.POST.get("next") if _safe_next(request) else "subscribers:deliveries")


def _safe_next(request: HttpRequest) -> bool:
    """Only a console path may be the page we go back to."""
    target = request.POST.get("next", "")
    return target.startswith("/console/subscribers/") and "//" not in target
