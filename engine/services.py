"""Business rules around the engine's configuration: demo markets and who may trade."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import transaction

from console import audit
from engine.models import Market

TRADE_PERMISSION = "engine.trade"

# A fresh installation's markets: reference prices (in ticks) near real ones, so the price
# band (10% by default) accepts realistic orders from the first one.
DEMO_MARKETS = [
    {"symbol": "BTC-USD", "tick_size": "0.01", "lot_size": "0.0001", "reference_price": 6_500_000},  # 65,000.00
    {"symbol": "ETH-USD", "tick_size": "0.01", "lot_size": "0.001", "reference_price": 350_000},  # 3,500.00
    {"symbol": "SOL-USD", "tick_size": "0.001", "lot_size": "0.01", "reference_price": 150_000},  # 150.000
]


@transaction.atomic
def create_demo_markets(*, by: Any, source: str) -> list[Market]:
    """Create the demo markets on the default shard, only when there are no markets at all."""
    if Market.objects.exists():
        return []
    created = []
    for fields in DEMO_MARKETS:
        market = Market.objects.create(shard=settings.ENGINE_SHARD, **fields)
        audit.record(actor=by, action="market.create", target=market, after=audit.snapshot(market), source=source)
        created.append(market)
    return created


def trading_permission() -> Permission:
    app_label, codename = TRADE_PERMISSION.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def grant_trading(*, user: Any, by: Any, source: str) -> None:
    """Let a user send orders for their own account through the order gateway."""
    user.user_permissions.add(trading_permission())
    audit.record(
        actor=by, action="user.trading_granted", target=user, after={"permission": TRADE_PERMISSION}, source=source
    )
