from __future__ import annotations

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console: roles, audit log, health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from exchange_console import checks  # noqa: F401 (registers the project's system checks)
