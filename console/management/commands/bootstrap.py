"""Prepare a local installation: role groups, demo markets, components, alert rules, a maintenance window, users."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console import services
from console.models import AuditEntry
from console.permissions import Role
from engine import services as engine_services
from engine.models import Market
from exchange_console.paths import VAR_DIR
from incidents import services as incidents_services
from incidents.maintenance import services as maintenance_services

DEMO_CREDENTIALS_FILE = VAR_DIR / "demo-users.txt"
DEMO_TRADER = "demo-trader"


class Command(BaseCommand):
    help = (
        "Create the role groups and, on first run, the demo markets (when there are none), a demo user "
        "for each role and a demo trader holding engine.trade (passwords printed once)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-demo-users", action="store_true", help="Create the role groups only.")

    def handle(self, *args, no_demo_users: bool = False, **options) -> None:
        services.ensure_role_groups()
        if no_demo_users:
            return
        markets = engine_services.create_demo_markets(by=None, source=AuditEntry.Source.SYSTEM)
        if markets:
            self.stdout.write(f"Demo markets: {', '.join(market.symbol for market in markets)}.")
        components = incidents_services.create_demo_components(markets=list(Market.objects.all()))
        if components:
            self.stdout.write(f"Demo components: {', '.join(component.name for component in components)}.")
        if demo_window := maintenance_services.create_demo_window(components=components):
            self.stdout.write(f"Demo maintenance: {demo_window.code} {demo_window.title}.")
        trading = [component for component in components if component.market_id]
        if incidents_services.create_default_alert_rules(shard=settings.ENGINE_SHARD, components=trading):
            self.stdout.write("Default alert rules created (admin: Alert rules).")
        created = [user for role in Role if (user := self._demo_user(f"demo-{role.group_name}", role, role.label))]
        trader = self._demo_user(DEMO_TRADER, None, "Trader")
        if trader:
            user = get_user_model().objects.get(username=DEMO_TRADER)
            engine_services.grant_trading(user=user, by=None, source=AuditEntry.Source.SYSTEM)
            created.append(trader)
        if created:
            self._announce(created)

    def _demo_user(self, username: str, role: Role | None, label: str) -> tuple[str, str, str] | None:
        """Create a demo user unless it exists; return (username, label, password) when created."""
        if get_user_model().objects.filter(username=username).exists():
            return None
        password = secrets.token_urlsafe(12)
        services.create_user(username=username, role=role, password=password, by=None, source=AuditEntry.Source.SYSTEM)
        return username, label, password

    def _announce(self, created: list[tuple[str, str, str]]) -> None:
        lines = [f"  {username:<16} {role:<10} {password}" for username, role, password in created]
        text = "\n".join(["Demo users (username, role, password):", *lines])
        path = DEMO_CREDENTIALS_FILE
        path.write_text(text + "\n")
        path.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(text))
        self.stdout.write(f"These passwords are shown once; a copy is in {path}.")
