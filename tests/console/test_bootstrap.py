"""`manage.py bootstrap`: role groups, demo markets on a fresh installation, demo users shown once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from console.management.commands import bootstrap
from console.permissions import Role, role_of
from engine.models import Market


@pytest.fixture(autouse=True)
def credentials_file(tmp_path, monkeypatch):
    monkeypatch.setattr(bootstrap, "DEMO_CREDENTIALS_FILE", tmp_path / "demo-users.txt")
    return tmp_path / "demo-users.txt"


def run_bootstrap(*args: str) -> str:
    out = StringIO()
    call_command("bootstrap", *args, stdout=out)
    return out.getvalue()


def test_it_creates_demo_markets_users_and_a_trader_once(db, credentials_file):
    output = run_bootstrap()

    markets = {market.symbol: (market.tick_size, market.lot_size) for market in Market.objects.all()}
    assert markets == {"BTC-USD": ("0.01", "0.0001"), "ETH-USD": ("0.01", "0.001"), "SOL-USD": ("0.001", "0.01")}
    btc = Market.objects.get(symbol="BTC-USD")
    assert btc.price(btc.reference_price) == "65000.00"
    users = get_user_model().objects
    assert role_of(users.get(username="demo-commander")) == Role.COMMANDER
    trader = users.get(username="demo-trader")
    assert trader.has_perm("engine.trade")
    assert role_of(trader) is None
    assert "demo-trader" in output
    assert "demo-trader" in credentials_file.read_text()

    again = run_bootstrap()

    assert Market.objects.count() == 3
    assert "demo-trader" not in again


def test_it_leaves_existing_markets_alone(db):
    Market.objects.create(symbol="XRP-USD")

    run_bootstrap()

    assert list(Market.objects.values_list("symbol", flat=True)) == ["XRP-USD"]


def test_without_demo_users_it_only_creates_the_role_groups(db):
    run_bootstrap("--no-demo-users")

    assert not Market.objects.exists()
    assert not get_user_model().objects.exists()
