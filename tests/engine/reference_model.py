"""A deliberately simple matching engine to check the real one against.

No heaps, no lazy deletion, no fast paths: resting orders sit in one list, and every match sorts
the other side by (price, arrival). It follows the rules as the engine documents them, in the
same order of validation, and emits events as (kind, seq, ...) tuples in which a rejection keeps
only its code (reasons are prose, compared by a separate test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from engine.core import Amend, Cancel, CancelAll, Limit, Market, MarketConfig, SetMode

MODES = ("open", "post_only", "cancel_only", "halted")
STPS = ("cancel_newest", "cancel_oldest", "cancel_both", "none")
TIFS = ("gtc", "ioc", "fok", "post_only")
MAX_TICKS = 1 << 62


class Refused(Exception):
    """Carries a rejection code out of the checks."""

    def __init__(self, code: str) -> None:
        self.code = code


@dataclass
class Order:
    order_id: int
    symbol: str
    account: int
    client_order_id: str
    side: str
    price: int
    qty: int
    tif: str
    stp: str
    arrival: int
    filled: int = 0


@dataclass
class ModelMarket:
    config: MarketConfig
    mode: str
    last_price: int | None = None
    resting: list[Order] = field(default_factory=list)


class ReferenceModel:
    """The rules of engine.core, written for clarity instead of speed."""

    def __init__(self, configs: list[MarketConfig]) -> None:
        self.markets = {config.symbol: ModelMarket(config, config.mode) for config in configs}
        self.used_ids: set[tuple[int, str]] = set()
        self.seq = 0
        self.arrivals = 0

    def submit(self, command: object) -> list[tuple]:
        self.seq += 1
        handler = {
            Limit: self._limit,
            Market: self._market,
            Cancel: self._cancel,
            CancelAll: self._cancel_all,
            Amend: self._amend,
            SetMode: self._set_mode,
        }.get(type(command))
        try:
            if handler is None:
                raise Refused("unknown_command")
            return handler(command)
        except Refused as refused:
            return [("rejected", self.seq, refused.code)]

    # Checks, in the documented order.

    def _market_of(self, symbol: object) -> ModelMarket:
        if not isinstance(symbol, str) or symbol not in self.markets:
            raise Refused("unknown_market")
        return self.markets[symbol]

    def _check_account(self, account: object) -> None:
        if type(account) is not int or account <= 0:
            raise Refused("bad_account")

    def _check_order_fields(self, account: object, client_order_id: object, side: object, stp: object) -> None:
        self._check_account(account)
        if type(client_order_id) is not str or not 1 <= len(client_order_id) <= 64:
            raise Refused("bad_client_order_id")
        if side not in ("buy", "sell"):
            raise Refused("bad_side")
        if stp not in STPS:
            raise Refused("bad_stp")

    def _check_qty(self, market: ModelMarket, qty: object) -> None:
        if type(qty) is not int:
            raise Refused("qty_not_integer")
        if qty <= 0:
            raise Refused("qty_not_positive")
        if qty < market.config.min_qty:
            raise Refused("below_min_qty")
        if qty > market.config.max_qty:
            raise Refused("above_max_qty")

    def _check_price(self, market: ModelMarket, price: object) -> None:
        if type(price) is not int:
            raise Refused("price_not_integer")
        if price <= 0:
            raise Refused("price_not_positive")
        if price > MAX_TICKS:
            raise Refused("price_too_high")
        reference = market.last_price if market.last_price is not None else market.config.reference_price
        band = market.config.band_bps
        if (
            band is not None
            and reference is not None
            and Fraction(abs(price - reference), reference) > Fraction(band, 10_000)
        ):
            raise Refused("outside_band")

    def _check_fresh_id(self, account: int, client_order_id: str) -> None:
        if (account, client_order_id) in self.used_ids:
            raise Refused("duplicate_client_order_id")

    # Commands.

    def _limit(self, command: Limit) -> list[tuple]:
        symbol, account, client_order_id, side, price, qty, tif, stp = command
        market = self._market_of(symbol)
        if market.mode in ("halted", "cancel_only"):
            raise Refused("mode_forbids")
        self._check_order_fields(account, client_order_id, side, stp)
        if tif not in TIFS:
            raise Refused("bad_tif")
        self._check_qty(market, qty)
        self._check_price(market, price)
        if market.mode == "post_only" and tif in ("ioc", "fok"):
            raise Refused("mode_forbids")
        self._check_fresh_id(account, client_order_id)
        if (tif == "post_only" or market.mode == "post_only") and self._crossing(market, side, price):
            raise Refused("post_only_would_take")
        if tif == "fok" and self._fillable(market, account, side, price, stp) < qty:
            raise Refused("fok_cannot_fill")
        return self._enter(market, command, price, tif)

    def _market(self, command: Market) -> list[tuple]:
        symbol, account, client_order_id, side, qty, stp = command
        market = self._market_of(symbol)
        if market.mode != "open":
            raise Refused("mode_forbids")
        self._check_order_fields(account, client_order_id, side, stp)
        self._check_qty(market, qty)
        self._check_fresh_id(account, client_order_id)
        return self._enter(market, command, None, "market")

    def _enter(self, market: ModelMarket, command: Limit | Market, price: int | None, tif: str) -> list[tuple]:
        symbol, account, client_order_id, side = command[:4]
        qty = command.qty
        self.used_ids.add((account, client_order_id))
        order = Order(self.seq, symbol, account, client_order_id, side, price, qty, tif, command.stp, 0)
        events = [("accepted", self.seq, self.seq, symbol, account, client_order_id, side, price, qty)]
        left = self._match(market, order, events)
        if left and tif == "ioc":
            events.append(("cancelled", self.seq, self.seq, left, "ioc"))
        elif left and tif == "market":
            events.append(("cancelled", self.seq, self.seq, left, "market"))
        elif left:
            self._rest(market, order, left)
        return events

    def _cancel(self, command: Cancel) -> list[tuple]:
        symbol, account, order_id = command
        market = self._market_of(symbol)
        if market.mode == "halted":
            raise Refused("mode_forbids")
        self._check_account(account)
        order = self._find(market, account, order_id)
        market.resting.remove(order)
        return [("cancelled", self.seq, order_id, order.qty, "user")]

    def _cancel_all(self, command: CancelAll) -> list[tuple]:
        symbol, account = command
        if symbol is None and account is None:
            raise Refused("cancel_all_needs_scope")
        if symbol is not None:
            market = self._market_of(symbol)
            if market.mode == "halted":
                raise Refused("mode_forbids")
        if account is not None:
            self._check_account(account)
        symbols = [symbol] if symbol is not None else sorted(self.markets)
        events: list[tuple] = []
        for name in symbols:
            market = self.markets[name]
            if market.mode != "halted":
                self._cancel_where(market, lambda order: account is None or order.account == account, "user", events)
        return events

    def _amend(self, command: Amend) -> list[tuple]:
        symbol, account, order_id, price, qty = command
        market = self._market_of(symbol)
        if market.mode in ("halted", "cancel_only"):
            raise Refused("mode_forbids")
        self._check_account(account)
        order = self._find(market, account, order_id)
        self._check_qty(market, qty)
        self._check_price(market, price)
        if price == order.price and qty <= order.qty:
            order.qty = qty
            return [("amended", self.seq, order_id, price, qty, True)]
        if (order.tif == "post_only" or market.mode == "post_only") and self._crossing(market, order.side, price):
            raise Refused("post_only_would_take")
        market.resting.remove(order)
        order.price = price
        events = [("amended", self.seq, order_id, price, qty, False)]
        order.qty = qty
        left = self._match(market, order, events)
        if left:
            self._rest(market, order, left)
        return events

    def _set_mode(self, command: SetMode) -> list[tuple]:
        symbol, mode, cancel_resting = command
        market = self._market_of(symbol)
        if mode not in MODES or type(cancel_resting) is not bool:
            raise Refused("bad_mode")
        events = [("mode_changed", self.seq, symbol, market.mode, mode)]
        market.mode = mode
        if cancel_resting:
            self._cancel_where(market, lambda order: True, "mode", events)
        return events

    # Matching.

    def _opposite(self, market: ModelMarket, side: str) -> list[Order]:
        """Return the other side's orders, best first."""
        if side == "buy":
            return sorted((o for o in market.resting if o.side == "sell"), key=lambda o: (o.price, o.arrival))
        return sorted((o for o in market.resting if o.side == "buy"), key=lambda o: (-o.price, o.arrival))

    @staticmethod
    def _crosses(side: str, limit: int | None, maker_price: int) -> bool:
        return limit is None or (maker_price <= limit if side == "buy" else maker_price >= limit)

    def _crossing(self, market: ModelMarket, side: str, price: int) -> bool:
        best = self._opposite(market, side)
        return bool(best) and self._crosses(side, price, best[0].price)

    def _fillable(self, market: ModelMarket, account: int, side: str, price: int, stp: str) -> int:
        total = 0
        for maker in self._opposite(market, side):
            if not self._crosses(side, price, maker.price):
                break
            if maker.account == account and stp != "none":
                if stp == "cancel_oldest":
                    continue
                break
            total += maker.qty
        return total

    def _match(self, market: ModelMarket, taker: Order, events: list[tuple]) -> int:
        qty = taker.qty
        for maker in self._opposite(market, taker.side):
            if not qty or not self._crosses(taker.side, taker.price, maker.price):
                break
            if maker.account == taker.account and taker.stp != "none":
                if taker.stp in ("cancel_oldest", "cancel_both"):
                    market.resting.remove(maker)
                    events.append(("cancelled", self.seq, maker.order_id, maker.qty, "stp"))
                if taker.stp in ("cancel_newest", "cancel_both"):
                    events.append(("cancelled", self.seq, taker.order_id, qty, "stp"))
                    return 0
                continue
            fill = min(qty, maker.qty)
            events.append(("trade", self.seq, taker.symbol, maker.order_id, taker.order_id, maker.price, fill))
            market.last_price = maker.price
            maker.qty -= fill
            maker.filled += fill
            taker.filled += fill
            qty -= fill
            if not maker.qty:
                market.resting.remove(maker)
        return qty

    def _rest(self, market: ModelMarket, order: Order, qty: int) -> None:
        self.arrivals += 1
        order.qty = qty
        order.arrival = self.arrivals
        market.resting.append(order)

    def _find(self, market: ModelMarket, account: int, order_id: object) -> Order:
        for order in market.resting:
            if order.order_id == order_id and type(order_id) is int and order.account == account:
                return order
        raise Refused("unknown_order")

    def _cancel_where(self, market: ModelMarket, wanted, reason: str, events: list[tuple]) -> None:
        for order in sorted(market.resting, key=lambda o: o.order_id):
            if wanted(order):
                market.resting.remove(order)
                events.append(("cancelled", self.seq, order.order_id, order.qty, reason))

    # Queries.

    def resting(self, symbol: str) -> list[Order]:
        return list(self.markets[symbol].resting)
