"""Public subscription pages: subscribe, confirm, unsubscribe."""

from __future__ import annotations

from django.urls import path

from incidents.subscriptions.views import public

app_name = "subscriptions"

urlpatterns = [
    path("", public.subscribe, name="subscribe"),
    path("confirm/<str:token>/", public.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", public.unsubscribe, name="unsubscribe"),
    path("webhooks/", public.webhooks_documentation, name="webhooks"),
]
