"""Prepare a local installation: role groups and one demo user per role, shown once."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console import services
from console.models import AuditEntry
from console.permissions import Role
from exchange_console.paths import VAR_DIR

DEMO_CREDENTIALS_FILE = VAR_DIR / "demo-users.txt"


class Command(BaseCommand):
    help = "Create the role groups and, on first run, a demo user for each role (passwords printed once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-demo-users", action="store_true", help="Create the role groups only.")

    def handle(self, *args, no_demo_users: bool = False, **options) -> None:
        services.ensure_role_groups()
        if no_demo_users:
            return
        User = get_user_model()
        created = []
        for role in Role:
            username = f"demo-{role.group_name}"
            if User.objects.filter(username=username).exists():
                continue
            password = secrets.token_urlsafe(12)
            services.create_user(
                username=username, role=role, password=password, by=None, source=AuditEntry.Source.SYSTEM
            )
            created.append((username, role.label, password))
        if created:
            self._announce(created)

    def _announce(self, created: list[tuple[str, str, str]]) -> None:
        lines = [f"  {username:<16} {role:<10} {password}" for username, role, password in created]
        text = "\n".join(["Demo users (username, role, password):", *lines])
        path = DEMO_CREDENTIALS_FILE
        path.write_text(text + "\n")
        path.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(text))
        self.stdout.write(f"These passwords are shown once; a copy is in {path}.")
