"""System checks for configuration mistakes that settings alone cannot refuse."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def check_production_services(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Warn when production would run on the single-machine defaults."""
    if not settings.PRODUCTION:
        return []
    warnings = []
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        warnings.append(
            Warning(
                "Production is using SQLite.",
                hint="Set DATABASE_URL to a PostgreSQL database: several web and worker nodes cannot share SQLite.",
                id="exchange_console.W001",
            )
        )
    if not settings.REDIS_URL_CONFIGURED:
        warnings.append(
            Warning(
                "Production is using the embedded Redis.",
                hint="Set REDIS_URL to a Redis server that every node reaches; the embedded one serves one machine.",
                id="exchange_console.W002",
            )
        )
    return warnings
