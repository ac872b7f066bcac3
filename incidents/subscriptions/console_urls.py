"""Console pages for support: subscribers and the delivery log, under /console/subscribers/."""

from __future__ import annotations

from django.urls import path

from incidents.subscriptions.views import console

app_name = "subscribers"

urlpatterns = [
    path("", console.subscriber_list, name="list"),
    path("webhooks/add/", console.add_webhook, name="add_webhook"),
    path("webhooks/<int:pk>/", console.webhook_detail, name="webhook"),
    path("webhooks/<int:pk>/enable/", console.set_webhook_enabled, {"enabled": True}, name="enable_webhook"),
    path("webhooks/<int:pk>/disable/", console.set_webhook_enabled, {"enabled": False}, name="disable_webhook"),
    path("webhooks/<int:pk>/remove/", console.remove_webhook, name="remove_webhook"),
    path("emails/<int:pk>/", console.email_detail, name="email"),
    path("emails/<int:pk>/remove/", console.remove_email, name="remove_email"),
    path("deliveries/", console.delivery_log, name="deliveries"),
    path("deliveries/<int:pk>/resend/", console.resend, name="resend"),
]
