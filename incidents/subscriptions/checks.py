"""System checks of the subscription settings: mistakes that would send broken links or open the SSRF guard."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})  # noqa: S104 (names compared, not bound)


@register("subscriptions")
def check_public_links(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when production emails and webhooks would carry links to this machine, or reach private networks."""
    if not settings.PRODUCTION:  # development sends links to itself on purpose
        return []
    found = []
    if urlsplit(settings.PUBLIC_BASE_URL).hostname in LOCAL_HOSTS:
        found.append(Warning(
            f"PUBLIC_BASE_URL is {settings.PUBLIC_BASE_URL}: links in emails and webhooks would point at this machine.",
            hint="Set PUBLIC_BASE_URL to the public status site, e.g. https://status.example.com.",
            id="subscriptions.W001",
        ))  # fmt: skip
    if settings.SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS:
        found.append(Warning(
            "SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS is on: webhooks may call private and loopback addresses.",
            hint="Unset it unless webhook receivers live on a private network by design.",
            id="subscriptions.W002",
        ))  # fmt: skip
    return found
