"""The order gateway under /api/v1/, against a real engine worker on its own shard.

Each test that trades starts a worker (a fresh engine: accounts are user ids, which a rolled
back test database hands out again). Mode changes go to the supervisor's control stream; the
tests answer those themselves, as the supervisor would.
"""

from __future__ import annotations

import threading
import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from console import services
from console.models import AuditEntry
from engine import services as engine_services
from engine.api import TradingThrottle
from engine.models import Market
from engine.streams import Keys, pack, unpack
from tests.support.engine import running_worker, unique_shard, wait_for_heartbeat

# What the worker runs and what the Market rows say: the same configuration.
MARKETS = [
    {"symbol": "BTC-USD", "tick_size": "0.01", "lot_size": "0.001", "band_bps": None},
    {"symbol": "ETH-USD", "tick_size": "0.01", "lot_size": "0.0001", "band_bps": None},
]


def create_markets(shard: str) -> None:
    for fields in MARKETS:
        Market.objects.create(shard=shard, **fields)


@pytest.fixture
def worker(tmp_path, db):
    """A running worker on a fresh shard, with the Market rows that route orders to it."""
    with running_worker(tmp_path, markets=MARKETS, metrics_interval=0.1) as process:
        create_markets(process.config.shard)
        wait_for_heartbeat(process.config.shard)
        yield process


@pytest.fixture
def no_engine(db) -> str:
    """Markets on a shard no worker serves."""
    shard = unique_shard()
    create_markets(shard)
    return shard


def make_trader(username: str):
    user = services.create_user(username=username, role=None, password=None, by=None, source="system")
    engine_services.grant_trading(user=user, by=None, source=AuditEntry.Source.SYSTEM)
    return user


def api_client(user=None) -> APIClient:
    """A client authenticated by the user's API token (anonymous without a user)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def alice(db) -> APIClient:
    return api_client(make_trader("alice-trader"))


@pytest.fixture
def bob(db) -> APIClient:
    return api_client(make_trader("bob-trader"))


def order(**fields) -> dict:
    """A BTC-USD limit buy of 0.5 at 100.00 unless `fields` say otherwise."""
    body = {"symbol": "BTC-USD", "side": "buy", "type": "limit", "price": "100.00", "quantity": "0.500"}
    body.setdefault("client_order_id", f"c-{time.monotonic_ns()}")
    return {**body, **fields}


def post_order(client: APIClient, **fields):
    return client.post("/api/v1/orders/", order(**fields), format="json")


# -- placing orders ---------------------------------------------------------------------------


def test_it_accepts_a_limit_order_that_rests(worker, alice):
    response = post_order(alice, client_order_id="a1", time_in_force="gtc")

    assert response.status_code == 201, response.json()
    state = response.json()
    assert state["status"] == "resting"
    assert isinstance(state["order_id"], int)
    assert state["client_order_id"] == "a1"
    assert (state["price"], state["quantity"], state["filled_quantity"], state["open_quantity"]) == (
        "100.00", "0.500", "0.000", "0.500",
    )  # fmt: skip
    assert state["trades"] == []


def test_an_order_that_crosses_the_book_returns_its_trades(worker, alice, bob):
    maker = post_order(alice, side="sell", price="100.00", quantity="0.300").json()

    response = post_order(bob, side="buy", price="101.00", quantity="0.500")

    assert response.status_code == 201, response.json()
    state = response.json()
    assert state["status"] == "partially_filled"
    assert (state["filled_quantity"], state["open_quantity"]) == ("0.300", "0.200")
    assert state["trades"] == [{"price": "100.00", "quantity": "0.300", "maker_order_id": maker["order_id"]}]


def test_a_market_order_fills_what_it_can_and_cancels_the_rest(worker, alice, bob):
    post_order(alice, side="sell", price="100.00", quantity="0.300")

    response = bob.post(
        "/api/v1/orders/",
        {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "0.500", "client_order_id": "m1"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    state = response.json()
    assert (state["status"], state["cancel_reason"], state["price"]) == ("cancelled", "market", None)
    assert (state["filled_quantity"], state["open_quantity"]) == ("0.300", "0.000")


def test_a_post_only_order_that_would_take_is_a_422_with_the_engine_s_code(worker, alice, bob):
    post_order(alice, side="sell", price="100.00")

    response = post_order(bob, side="buy", price="100.00", time_in_force="post_only")

    assert response.status_code == 422
    assert response.json()["code"] == "post_only_would_take"
    assert response.json()["status"] == "rejected"


def test_a_reused_client_order_id_is_refused(worker, alice):
    assert post_order(alice, client_order_id="same").status_code == 201

    response = post_order(alice, client_order_id="same", price="99.00")

    assert response.status_code == 422
    assert response.json()["code"] == "duplicate_client_order_id"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"price": "100.005"}, "price"),  # off the 0.01 tick
        ({"quantity": "0.0005"}, "quantity"),  # off the 0.001 lot
        ({"price": 100.0}, "price"),  # a JSON number, not a decimal string
        ({"price": "-1"}, "price"),
        ({"price": "1" * 30}, "price"),  # beyond what the engine can hold
        ({"side": "sideways"}, "side"),
        ({"symbol": "DOGE-USD"}, "symbol"),
        ({"time_in_force": "forever"}, "time_in_force"),
        ({"client_order_id": ""}, "client_order_id"),
        ({"type": "market"}, "price"),  # a market order takes no price
    ],
)
def test_bad_fields_are_400s_naming_the_field(no_engine, alice, fields, field):
    response = post_order(alice, **fields)

    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_an_off_grid_price_names_the_nearest_valid_ones(no_engine, alice):
    response = post_order(alice, price="100.005")

    [message] = response.json()["price"]
    assert message == "price 100.005 is not a multiple of 0.01; nearest valid values are 100.00 and 100.01"


def test_missing_fields_are_each_named(no_engine, alice):
    response = alice.post("/api/v1/orders/", {"type": "limit"}, format="json")

    assert response.status_code == 400
    assert {"symbol", "side", "quantity", "client_order_id"} <= set(response.json())


def test_it_answers_503_with_retry_after_when_no_worker_runs(no_engine, alice):
    response = post_order(alice)

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "engine_unavailable"


def test_a_trader_over_the_rate_limit_is_told_when_to_come_back(no_engine, monkeypatch):
    """The limit is checked before anything reaches the engine: here it is not even running."""
    user = make_trader("hasty-trader")
    cache.delete(f"throttle_trading_{user.pk}")  # counts kept by an earlier test's user of the same id
    monkeypatch.setattr(TradingThrottle, "THROTTLE_RATES", {"trading": "2/min"})
    client = api_client(user)

    answers = [post_order(client).status_code for _ in range(3)]

    assert answers == [503, 503, 429]
    refused = post_order(client)
    assert int(refused["Retry-After"]) > 0
    assert client.get("/api/v1/markets/").status_code == 200  # reading is not throttled


# -- cancelling -------------------------------------------------------------------------------


def test_it_cancels_a_resting_order_once(worker, alice):
    placed = post_order(alice, quantity="0.500").json()
    url = f"/api/v1/orders/{placed['order_id']}/?symbol=BTC-USD"

    response = alice.delete(url)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "order_id": placed["order_id"], "symbol": "BTC-USD", "status": "cancelled", "cancelled_quantity": "0.500",
    }  # fmt: skip
    again = alice.delete(url)
    assert again.status_code == 404
    assert again.json()["code"] == "unknown_order"


def test_nobody_cancels_someone_else_s_order(worker, alice, bob):
    placed = post_order(alice).json()

    response = bob.delete(f"/api/v1/orders/{placed['order_id']}/?symbol=BTC-USD")

    assert response.status_code == 404


def test_a_cancel_needs_the_market(no_engine, alice):
    assert alice.delete("/api/v1/orders/1/").status_code == 400
    assert alice.delete("/api/v1/orders/1/?symbol=NOPE").status_code == 400
    assert alice.delete(f"/api/v1/orders/{2**70}/?symbol=BTC-USD").status_code == 404


# -- batches ----------------------------------------------------------------------------------


def test_a_batch_answers_each_order_in_order(worker, alice):
    orders = [
        order(client_order_id="b1", price="99.00"),
        order(client_order_id="b1", price="98.00"),  # a duplicate: refused alone
        order(client_order_id="b3", symbol="ETH-USD", price="10.00", quantity="1.2345"),
    ]

    response = alice.post("/api/v1/orders/batch/", {"orders": orders}, format="json")

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [result["status"] for result in results] == ["resting", "rejected", "resting"]
    assert results[1]["code"] == "duplicate_client_order_id"
    assert results[2]["quantity"] == "1.2345"


def test_a_batch_with_a_bad_order_is_refused_whole_with_errors_per_order(no_engine, alice):
    orders = [order(), order(price="1.001"), order(side="up")]

    response = alice.post("/api/v1/orders/batch/", {"orders": orders}, format="json")

    assert response.status_code == 400
    errors = response.json()["orders"]  # keyed by the index of each order in error
    assert set(errors) == {"1", "2"}
    assert "price" in errors["1"]
    assert "side" in errors["2"]


def test_a_batch_of_a_thousand_orders_goes_through_in_one_request(worker, alice):
    orders = [order(client_order_id=f"k{n}", price=f"{50 + n % 40}.00", quantity="0.001") for n in range(1_000)]

    response = alice.post("/api/v1/orders/batch/", {"orders": orders}, format="json")

    assert response.status_code == 200
    assert {result["status"] for result in response.json()["results"]} == {"resting"}
    too_many = alice.post("/api/v1/orders/batch/", {"orders": [*orders, order()]}, format="json")
    assert too_many.status_code == 400


# -- markets ----------------------------------------------------------------------------------


def test_markets_show_the_engine_s_mode_and_top_of_book(worker, alice, viewer):
    post_order(alice, side="buy", price="99.50")
    post_order(alice, side="sell", price="100.25")

    client, deadline, btc = api_client(viewer), time.monotonic() + 5, None
    while time.monotonic() < deadline:  # the worker snapshots its metrics every 0.1 s here
        rows = {row["symbol"]: row for row in client.get("/api/v1/markets/").json()}
        btc = rows["BTC-USD"]
        if btc["best_ask"] is not None:
            break
        time.sleep(0.05)

    assert (btc["mode"], btc["best_bid"], btc["best_ask"], btc["last_price"]) == ("open", "99.50", "100.25", None)
    assert (btc["tick_size"], btc["lot_size"], btc["min_quantity"]) == ("0.01", "0.001", "0.001")


def test_markets_without_an_engine_have_no_mode_or_prices(no_engine, alice):
    response = alice.get("/api/v1/markets/")

    assert response.status_code == 200
    btc = next(row for row in response.json() if row["symbol"] == "BTC-USD")
    assert (btc["mode"], btc["best_bid"], btc["as_of"]) == (None, None, None)


# -- who may trade ----------------------------------------------------------------------------


def test_anonymous_callers_are_told_to_authenticate(no_engine):
    assert post_order(api_client()).status_code == 401
    assert api_client().get("/api/v1/markets/").status_code == 401


@pytest.mark.parametrize("name", ["viewer", "commander", "outsider"])
def test_console_roles_without_engine_trade_cannot_send_orders(no_engine, persona, name):
    client = api_client(persona(name))

    assert post_order(client).status_code == 403
    assert client.delete("/api/v1/orders/1/?symbol=BTC-USD").status_code == 403
    assert client.post("/api/v1/orders/batch/", {"orders": [order()]}, format="json").status_code == 403


def test_a_session_login_with_engine_trade_may_trade(no_engine):
    user = make_trader("carl-trader")
    client = APIClient()
    client.force_login(user)

    assert post_order(client).status_code == 503  # past the permission check: no engine runs


# -- mode changes -----------------------------------------------------------------------------


class FakeSupervisor:
    """Hold a shard's lease and answer one control request, as the supervisor does."""

    def __init__(self, shard: str, answer: dict) -> None:
        self.keys = Keys(shard)
        self.redis = redis.Redis.from_url(settings.REDIS_URL)
        self.redis.set(self.keys.lease, "test-supervisor", px=30_000)
        self.answer = answer
        self.requests: list[dict] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        found = self.redis.xread({self.keys.control: "0-0"}, count=1, block=10_000)
        if found:
            _entry_id, fields = found[0][1][0]
            self.requests.append(unpack(fields[b"m"]))
            self.redis.rpush(fields[b"r"], pack(self.answer))

    def stop(self) -> None:
        self.thread.join(timeout=15)
        self.redis.delete(self.keys.lease, self.keys.control)


def change_mode(client: APIClient, **body):
    body = {"mode": "halted", "reason": "runaway algo", **body}
    return client.post("/api/v1/markets/BTC-USD/mode/", body, format="json")


def test_support_cannot_change_a_market_s_mode(no_engine, support):
    assert change_mode(api_client(support)).status_code == 403


def test_a_commander_changes_the_mode_through_the_supervisor_and_it_is_audited(no_engine, commander):
    cancelled = [7, 3, 2, "mode", "cancelled"]  # the one resting order, as the worker reports it
    answer = {"ok": True, "error": None, "previous": "open", "mode": "halted", "events": [cancelled]}
    supervisor = FakeSupervisor(no_engine, answer)
    try:
        response = change_mode(api_client(commander), cancel_resting=True)
    finally:
        supervisor.stop()

    assert response.status_code == 200, response.json()
    assert response.json() == {"symbol": "BTC-USD", "previous": "open", "mode": "halted", "cancelled_orders": 1}
    [request] = supervisor.requests
    assert request == {
        "action": "mode", "symbol": "BTC-USD", "mode": "halted", "cancel_resting": True, "reason": "runaway algo",
        "actor_id": commander.pk, "actor": commander.username,
    }  # fmt: skip
    entry = AuditEntry.objects.get(action="engine.mode_changed")
    assert (entry.actor, entry.before["mode"], entry.after["mode"]) == (commander, "open", "halted")


def test_a_refused_mode_change_is_a_422_and_not_audited(no_engine, commander):
    answer = {"ok": False, "error": "the engine is restarting: try again when it runs", "previous": None, "mode": None}
    supervisor = FakeSupervisor(no_engine, answer)
    try:
        response = change_mode(api_client(commander))
    finally:
        supervisor.stop()

    assert response.status_code == 422
    assert "restarting" in response.json()["detail"]
    assert not AuditEntry.objects.filter(action="engine.mode_changed").exists()


def test_a_mode_change_needs_a_reason_and_a_known_mode(no_engine, commander):
    client = api_client(commander)

    assert "reason" in change_mode(client, reason="  ").json()
    assert "mode" in change_mode(client, mode="closed").json()
    assert client.post("/api/v1/markets/NOPE/mode/", {"mode": "open", "reason": "x"}, format="json").status_code == 404


def test_a_mode_change_with_no_supervisor_is_a_503(no_engine, commander):
    response = change_mode(api_client(commander))

    assert response.status_code == 503
    assert "Retry-After" in response
