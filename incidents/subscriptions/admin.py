"""Admin views of subscribers and the delivery log (read-mostly: support uses the console pages)."""

from __future__ import annotations

from django.contrib import admin

from incidents.subscriptions.models import Delivery, EmailSubscriber, Message, WebhookSubscriber


@admin.register(EmailSubscriber)
class EmailSubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "created_at", "confirmed_at", "unsubscribed_at"]
    search_fields = ["email"]
    filter_horizontal = ["components"]


@admin.register(WebhookSubscriber)
class WebhookSubscriberAdmin(admin.ModelAdmin):
    list_display = ["url", "contact_email", "enabled", "consecutive_failures", "disabled_at"]
    search_fields = ["url", "contact_email"]
    list_filter = ["enabled"]
    filter_horizontal = ["components"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["key", "kind", "created_at"]
    list_filter = ["kind"]
    readonly_fields = ["key", "kind", "incident_id", "update_id", "postmortem_id", "maintenance_id", "notice_id",
                       "payload", "created_at"]  # fmt: skip


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["recipient", "channel", "status", "attempts", "response_code", "created_at", "sent_at"]
    list_filter = ["status", "channel"]
    search_fields = ["recipient"]
    raw_id_fields = ["message", "email_subscriber", "webhook_subscriber"]
    readonly_fields = ["claim", "claimed_at"]
