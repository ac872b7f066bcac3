"""The engine's admin pages: markets configurable until their engine has run, its records read-only."""

from __future__ import annotations

from django.test import Client

from console.models import AuditEntry
from engine.models import DrillResult, EngineEvent, Market


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def market_form(**overrides) -> dict:
    form = {
        "symbol": "ADA-USD", "shard": "main", "tick_size": "0.0001", "lot_size": "1", "min_qty": "1",
        "max_qty": "1000000", "band_bps": "1000", "reference_price": "", "initial_mode": "open",
    }  # fmt: skip
    return {**form, **overrides}


def test_an_admin_adds_a_market_and_it_is_audited(admin):
    response = logged_in(admin).post("/admin/engine/market/add/", market_form())

    assert response.status_code == 302
    market = Market.objects.get(symbol="ADA-USD")
    entry = AuditEntry.objects.get(action="admin.add", target_type="engine.market")
    assert entry.after["tick_size"] == "0.0001"
    assert entry.actor == admin
    assert market.config().tick_size == "0.0001"


def test_a_market_whose_engine_has_run_keeps_its_grid(admin):
    market = Market.objects.create(symbol="ADA-USD", shard="main", tick_size="0.0001", lot_size="1")
    EngineEvent.objects.create(shard="main", kind=EngineEvent.Kind.RECOVERED, message="recovered")
    client = logged_in(admin)

    client.post(f"/admin/engine/market/{market.pk}/change/", market_form(tick_size="0.01"))

    market.refresh_from_db()
    assert market.tick_size == "0.0001"  # the journal's snapshot rules now: the form cannot change it
    assert client.get(f"/admin/engine/market/{market.pk}/delete/").status_code == 403


def test_engine_records_are_read_only(admin):
    DrillResult.objects.create(shard="main", fault="crash", rto_seconds=0.2, rpo_orders=0, acknowledged=1, passed=True)
    client = logged_in(admin)
    for model in ("engineevent", "healthminute", "drillresult"):
        assert client.get(f"/admin/engine/{model}/").status_code == 200
        assert client.get(f"/admin/engine/{model}/add/").status_code == 403


def test_only_admins_reach_the_engine_admin(commander):
    assert logged_in(commander).get("/admin/engine/market/").status_code == 302
