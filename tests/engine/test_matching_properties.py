"""Property tests: for any command sequence the engine agrees with the reference model.

Hypothesis drives both with the same commands (mostly valid, some broken on purpose) and checks
after every command that the events are the same and that the book is sane: never crossed,
every resting order findable by id, quantities conserved (what was accepted is traded, cancelled
or still resting). At the end, replaying the commands and restoring a snapshot both reproduce
the same state digest. Commands reach the engine three ways: `submit`, the command's method, and
the worker's compiled batch path (`engine.batch.apply_command`), which must agree on everything.
"""

from __future__ import annotations

import hypothesis
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, precondition, rule

from engine.batch import apply_command
from engine.core import (
    ACCEPTED,
    AMENDED,
    CANCELLED,
    REJECTED,
    TRADE,
    Amend,
    Cancel,
    CancelAll,
    Engine,
    Limit,
    Market,
    MarketConfig,
    SetMode,
    digest,
    dump,
    load,
    named,
)
from engine.core.wire import KINDS
from tests.engine.conftest import ENGINE_SETTINGS
from tests.engine.reference_model import MODES, STPS, TIFS, ReferenceModel

CONFIGS = [
    MarketConfig("AAA", min_qty=1, max_qty=8, band_bps=2_000, reference_price=100),
    MarketConfig("BBB", min_qty=2, max_qty=50, band_bps=None),
]
SYMBOLS = [config.symbol for config in CONFIGS]
METHODS = {Limit: "limit", Market: "market", Cancel: "cancel", CancelAll: "cancel_all", Amend: "amend"}
METHODS[SetMode] = "set_mode"


def decoded(values: list[str]) -> st.SearchStrategy[str]:
    """One of `values`, sometimes as an equal but distinct string, as a JSON decoder returns it.

    The engine's fast path compares constants by identity; such strings must take the general
    path and get the same answer.
    """
    return st.sampled_from(values).flatmap(lambda value: st.sampled_from([value, value, "".join(list(value))]))


symbols = st.sampled_from(SYMBOLS)
accounts = st.integers(1, 3)
client_ids = st.integers(0, 40).map(str)
sides = decoded(["buy", "sell"])
prices = st.integers(94, 106)
quantities = st.integers(1, 9)
tifs = decoded(list(TIFS))
stps = decoded(list(STPS))
modes = decoded(["open", "open", "open", *MODES])
# How a command reaches the engine: `submit`, the command's method, or the worker's compiled batch path.
WAYS = st.sampled_from(["submit", "method", "compiled"])

# Broken values per field name; `broken_command` puts one of them into an otherwise valid command.
BROKEN = {
    "symbol": ["ZZZ", None, 7, ["AAA"]],
    "account": [0, -1, "1", True, 1.0, None],
    "client_order_id": ["", "x" * 65, 5, None],
    "side": ["hold", "BUY", None],
    "price": [0, -3, 100.5, "100", 10**6, 1 << 63, None],
    "qty": [0, -2, 2.5, "3", 60, None],
    "tif": ["day", None],
    "stp": ["allow", None],
    "order_id": [0, -1, "1", 1.5, None, [1]],
    "mode": ["closed", None, ["open"]],
    "cancel_resting": ["yes", None, 1],
}
VALID = {
    Limit: Limit("AAA", 1, "z1", "buy", 100, 2, "gtc", "cancel_newest"),
    Market: Market("BBB", 2, "z2", "sell", 3, "cancel_oldest"),
    Cancel: Cancel("AAA", 1, 1),
    CancelAll: CancelAll("AAA", 1),
    Amend: Amend("AAA", 1, 1, 99, 1),
    SetMode: SetMode("BBB", "open", False),
}


@st.composite
def broken_commands(draw: st.DrawFn) -> object:
    """A valid command with one field replaced by something the engine must refuse."""
    command = VALID[draw(st.sampled_from(list(VALID)))]
    name = draw(st.sampled_from([field for field in command._fields if field in BROKEN]))
    return command._replace(**{name: draw(st.sampled_from(BROKEN[name]))})


def as_tuple(event: tuple) -> tuple:
    """Put an engine event in the model's shape: kind first, a rejection keeping only its code."""
    if event[-1] == REJECTED:
        return (REJECTED, event[0], event[1])
    return (event[-1], *event[:-1])


class EngineAgreesWithModel(RuleBasedStateMachine):
    """Drive the engine and the reference model with the same commands."""

    order_ids = Bundle("order_ids")

    @initialize()
    def start(self) -> None:
        self.engine = Engine(CONFIGS)
        self.model = ReferenceModel(CONFIGS)
        self.commands: list[object] = []
        self.open_qty: dict[int, int] = {}

    def apply(self, command: object, direct: str) -> list:
        """Submit to both (the engine by `submit`, its method or the compiled batch path) and compare the events."""
        self.commands.append(command)
        method = METHODS.get(type(command))
        if direct == "compiled" and method:
            events = apply_command(self.engine, KINDS[type(command)], tuple(command))
        elif direct == "method" and method:
            events = getattr(self.engine, method)(*command)
        else:
            events = self.engine.submit(command)
        assert [as_tuple(event) for event in events] == self.model.submit(command)
        for event in map(named, events):  # coverage, shown by --hypothesis-show-statistics
            hypothesis.event(event.code if event.kind == REJECTED else event.kind + getattr(event, "reason", ""))
        self.account_for(events)
        return events

    def account_for(self, events: list) -> None:
        """Follow every order's open quantity through the events (conservation)."""
        for event in map(named, events):
            if event.kind in (ACCEPTED, AMENDED):
                self.open_qty[event.order_id] = event.qty
            elif event.kind == TRADE:
                self.open_qty[event.maker] -= event.qty
                self.open_qty[event.taker] -= event.qty
            elif event.kind == CANCELLED:
                assert event.qty == self.open_qty[event.order_id], "a cancel must remove all that is open"
                self.open_qty[event.order_id] = 0

    @rule(
        target=order_ids,
        symbol=symbols,
        account=accounts,
        client_id=client_ids,
        side=sides,
        price=prices,
        qty=quantities,
        tif=tifs,
        stp=stps,
        direct=WAYS,
    )
    def limit(self, symbol, account, client_id, side, price, qty, tif, stp, direct):
        events = self.apply(Limit(symbol, account, client_id, side, price, qty, tif, stp), direct)
        return multiple(*[event[1] for event in events if event[-1] == ACCEPTED])

    @rule(
        target=order_ids,
        symbol=symbols,
        account=accounts,
        client_id=client_ids,
        side=sides,
        qty=quantities,
        stp=stps,
        direct=WAYS,
    )
    def market(self, symbol, account, client_id, side, qty, stp, direct):
        events = self.apply(Market(symbol, account, client_id, side, qty, stp), direct)
        return multiple(*[event[1] for event in events if event[-1] == ACCEPTED])

    @rule(symbol=symbols, account=accounts, order_id=order_ids | st.integers(0, 5), direct=WAYS)
    def cancel(self, symbol, account, order_id, direct):
        self.apply(Cancel(symbol, account, order_id), direct)

    @rule(symbol=st.none() | symbols, account=st.none() | accounts, direct=WAYS)
    def cancel_all(self, symbol, account, direct):
        self.apply(CancelAll(symbol, account), direct)

    @rule(
        symbol=symbols,
        account=accounts,
        order_id=order_ids | st.integers(0, 5),
        price=prices,
        qty=quantities,
        direct=WAYS,
    )
    def amend(self, symbol, account, order_id, price, qty, direct):
        self.apply(Amend(symbol, account, order_id, price, qty), direct)

    @rule(symbol=symbols, mode=modes, cancel_resting=st.booleans(), direct=WAYS)
    def set_mode(self, symbol, mode, cancel_resting, direct):
        self.apply(SetMode(symbol, mode, cancel_resting), direct)

    @precondition(lambda self: self.resting_orders())
    @rule(data=st.data(), depth=st.integers(0, 3), qty=quantities, tif=tifs, stp=stps, account=accounts, direct=WAYS)
    def order_against_the_book(self, data, depth, qty, tif, stp, account, direct):
        """Aim at a resting order's price (or through it) so that matching gets exercised."""
        target = data.draw(st.sampled_from(self.resting_orders()))
        side = "sell" if target.side == "buy" else "buy"
        price = target.price - depth if side == "sell" else target.price + depth
        client_id = data.draw(client_ids)
        self.apply(Limit(target.symbol, account, client_id, side, price, qty, tif, stp), direct)

    def resting_orders(self) -> list:
        return [order for symbol in SYMBOLS for order in self.model.resting(symbol)]

    @precondition(lambda self: self.resting_orders())
    @rule(data=st.data(), direct=WAYS)
    def cancel_own_order(self, data, direct):
        order = data.draw(st.sampled_from(self.resting_orders()))
        self.apply(Cancel(order.symbol, order.account, order.order_id), direct)

    @precondition(lambda self: self.resting_orders())
    @rule(data=st.data(), price_move=st.integers(-3, 3), qty=quantities, direct=WAYS)
    def amend_own_order(self, data, price_move, qty, direct):
        order = data.draw(st.sampled_from(self.resting_orders()))
        price = order.price + data.draw(st.sampled_from([0, 0, price_move]))
        self.apply(Amend(order.symbol, order.account, order.order_id, price, qty), direct)

    @rule(command=broken_commands(), direct=WAYS)
    def broken_command(self, command, direct):
        self.apply(command, direct)

    @rule(command=st.sampled_from(["limit", None, ("AAA", 1, "a", "buy", 100, 1), 42]))
    def not_a_command(self, command):
        self.apply(command, direct="submit")

    @invariant()
    def book_is_never_crossed(self) -> None:
        for symbol in SYMBOLS:
            bid, ask = self.engine.best_bid(symbol), self.engine.best_ask(symbol)
            assert bid is None or ask is None or bid < ask

    @invariant()
    def every_resting_order_is_findable_and_as_the_model_says(self) -> None:
        for symbol in SYMBOLS:
            resting = self.model.resting(symbol)
            for order in resting:
                state = self.engine.order(order.order_id)
                assert state is not None
                assert (state.symbol, state.side, state.price, state.qty) == (
                    symbol,
                    order.side,
                    order.price,
                    order.qty,
                )
                assert state.filled == order.filled
            depth = self.engine.depth(symbol, levels=1_000)
            levels: dict[tuple[str, int], list[int]] = {}
            for order in resting:
                level = levels.setdefault((order.side, order.price), [0, 0])
                level[0] += order.qty
                level[1] += 1
            shown = {("buy", price): [qty, count] for price, qty, count in depth.bids}
            shown |= {("sell", price): [qty, count] for price, qty, count in depth.asks}
            assert shown == levels  # every level's open quantity and order count, kept incrementally

    @invariant()
    def quantities_are_conserved(self) -> None:
        for order_id, open_qty in self.open_qty.items():
            state = self.engine.order(order_id)
            assert open_qty == (state.qty if state else 0)

    def teardown(self) -> None:
        if not hasattr(self, "engine"):
            return
        replayed = Engine(CONFIGS)
        for command in self.commands:
            replayed.submit(command)
        assert digest(replayed) == digest(self.engine)
        assert digest(load(dump(self.engine))) == digest(self.engine)


EngineAgreesWithModel.TestCase.settings = ENGINE_SETTINGS
TestEngineAgreesWithModel = EngineAgreesWithModel.TestCase
