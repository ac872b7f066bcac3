"""The order gateway's rules: validated orders in, engine commands out, events read back as order states.

The API (`engine.api`) validates input and maps outcomes to HTTP; everything between (building
commands in ticks and lots, routing each market to its shard, reading the engine's events
back into what happened to an order, audited mode changes) lives here, so the simulator and
other callers get the same answers.

Results are plain dicts shaped as `engine.serializers` documents them: an order state, a
rejection (`status` "rejected", the engine's `code` and reason as `detail`), or, when only
some shards of a batch answered, "unknown" for the orders of the silent ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from console import audit
from console.models import AuditEntry
from engine.client import EngineClient, EngineUnavailable
from engine.core import codec
from engine.core.events import CANCELLED, REJECTED, TRADE, Accepted, Cancelled, Rejected, Trade
from engine.core.types import Cancel, Limit
from engine.core.types import Market as MarketOrder
from engine.core.wire import KINDS
from engine.models import Market

LIMIT = "limit"
MARKET = "market"
ORDER_TYPES = (LIMIT, MARKET)

# Order statuses after the engine's acknowledgement: where the order is now.
RESTING = "resting"  # on the book, nothing filled
PARTIALLY_FILLED = "partially_filled"  # on the book, some filled
FILLED = "filled"  # traded in full
CANCELLED_STATUS = "cancelled"  # left the book (or never rested) with lots open: see cancel_reason
REJECTED_STATUS = "rejected"  # refused, changed nothing: see code and detail
UNKNOWN = "unknown"  # its shard did not answer: it may still be applied

UNKNOWN_ORDER = "unknown_order"
ENGINE_UNAVAILABLE = "engine_unavailable"
METRICS_MAX_AGE = 5.0  # seconds: an older snapshot means the engine is not running


# -- orders ---------------------------------------------------------------------------------


def order_command(*, account: int, order: dict[str, Any]) -> list:
    """Return the wire command (`[kind, *fields]`) for a validated order."""
    symbol, side, client_order_id = order["market"].symbol, order["side"], order["client_order_id"]
    if order["type"] == MARKET:
        command = MarketOrder(symbol, account, client_order_id, side, order["lots"], order["stp"])
    else:
        command = Limit(
            symbol, account, client_order_id, side, order["ticks"], order["lots"], order["time_in_force"], order["stp"]
        )
    return [KINDS[type(command)], *command]


def place_orders(*, account: int, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send validated orders, one stream entry per shard; return one result per order, in order.

    Raises EngineUnavailable when no shard answered at all.
    """
    by_shard: dict[str, list[int]] = defaultdict(list)
    for index, order in enumerate(orders):
        by_shard[order["market"].shard].append(index)
    results: list[dict[str, Any]] = [{} for _ in orders]
    silent: EngineUnavailable | None = None
    for shard, indexes in by_shard.items():
        commands = [order_command(account=account, order=orders[index]) for index in indexes]
        try:
            answers = EngineClient(shard).request(commands)
        except EngineUnavailable as error:
            silent = error
            for index in indexes:
                results[index] = _unknown(orders[index], error)
            continue
        for index, events in zip(indexes, answers, strict=True):
            results[index] = order_result(orders[index], events)
    if silent is not None and all(result["status"] == UNKNOWN for result in results):
        raise silent
    return results


def order_result(order: dict[str, Any], events: list[list]) -> dict[str, Any]:
    """Read the engine's events for one order back into its state (or its rejection)."""
    if events[0][-1] == REJECTED:
        return _rejection(order, events[0])
    accepted = Accepted._make(events[0])
    config = order["market"].config()
    trades, cancelled_resting, own_cancel, filled = [], [], None, 0
    for event in events[1:]:
        if event[-1] == TRADE:
            trade = Trade._make(event)
            filled += trade.qty
            trades.append(_trade(config, trade))
        elif event[-1] == CANCELLED:
            cancel = Cancelled._make(event)
            if cancel.order_id == accepted.order_id:
                own_cancel = cancel
            else:  # self-trade prevention took one of the account's resting orders
                cancelled_resting.append(
                    {
                        "order_id": cancel.order_id,
                        "quantity": codec.lots_to_qty(config, cancel.qty),
                        "reason": cancel.reason,
                    }
                )
    open_lots = 0 if own_cancel else accepted.qty - filled
    return {
        "order_id": accepted.order_id,
        "client_order_id": accepted.client_order_id,
        "symbol": accepted.symbol,
        "side": accepted.side,
        "type": order["type"],
        "time_in_force": order["time_in_force"] if order["type"] == LIMIT else None,
        "price": None if accepted.price is None else codec.ticks_to_price(config, accepted.price),
        "quantity": codec.lots_to_qty(config, accepted.qty),
        "filled_quantity": codec.lots_to_qty(config, filled),
        "open_quantity": codec.lots_to_qty(config, open_lots),
        "status": _status(filled=filled, open_lots=open_lots, cancelled=own_cancel is not None),
        "cancel_reason": own_cancel.reason if own_cancel else None,
        "trades": trades,
        "cancelled_resting": cancelled_resting,
    }


def _status(*, filled: int, open_lots: int, cancelled: bool) -> str:
    if cancelled:
        return CANCELLED_STATUS
    if open_lots == 0:
        return FILLED
    return PARTIALLY_FILLED if filled else RESTING


def _trade(config: Any, trade: Trade) -> dict[str, Any]:
    return {
        "price": codec.ticks_to_price(config, trade.price),
        "quantity": codec.lots_to_qty(config, trade.qty),
        "maker_order_id": trade.maker,
    }


def _rejection(order: dict[str, Any], event: list) -> dict[str, Any]:
    rejected = Rejected._make(event)
    return {
        "status": REJECTED_STATUS,
        "client_order_id": order["client_order_id"],
        "symbol": order["market"].symbol,
        "code": rejected.code,
        "detail": rejected.reason,
    }


def _unknown(order: dict[str, Any], error: EngineUnavailable) -> dict[str, Any]:
    return {
        "status": UNKNOWN,
        "client_order_id": order["client_order_id"],
        "symbol": order["market"].symbol,
        "code": ENGINE_UNAVAILABLE,
        "detail": f"{error.reason}; the order may still be applied: look it up by its client order id",
    }


def cancel_order(*, market: Market, account: int, order_id: int) -> dict[str, Any]:
    """Cancel one of the account's resting orders; return what was cancelled, or the engine's refusal."""
    command = Cancel(market.symbol, account, order_id)
    events = EngineClient(market.shard).request([[KINDS[Cancel], *command]])[0]
    if events[0][-1] == REJECTED:
        rejected = Rejected._make(events[0])
        return {"status": REJECTED_STATUS, "code": rejected.code, "detail": rejected.reason}
    cancel = Cancelled._make(events[0])
    return {
        "order_id": cancel.order_id,
        "symbol": market.symbol,
        "status": CANCELLED_STATUS,
        "cancelled_quantity": codec.lots_to_qty(market.config(), cancel.qty),
    }


# -- markets --------------------------------------------------------------------------------


def market_overview(markets: Iterable[Market]) -> list[dict[str, Any]]:
    """Each market's configuration, with its mode and top of book from the engine's latest metrics."""
    snapshots: dict[str, dict | None] = {}
    rows = []
    for market in markets:
        if market.shard not in snapshots:
            snapshots[market.shard] = EngineClient(market.shard).latest_metrics(max_age=METRICS_MAX_AGE)
        snapshot = snapshots[market.shard] or {}
        live = (snapshot.get("markets") or {}).get(market.symbol)
        rows.append(_market_row(market, live, snapshot.get("time")))
    return rows


def _market_row(market: Market, live: dict | None, at: float | None) -> dict[str, Any]:
    config = market.config()
    row = {
        "symbol": market.symbol,
        "shard": market.shard,
        "tick_size": market.tick_size,
        "lot_size": market.lot_size,
        "min_quantity": codec.lots_to_qty(config, market.min_qty),
        "max_quantity": codec.lots_to_qty(config, market.max_qty),
        "band_bps": market.band_bps,
        "reference_price": _price(config, market.reference_price),
        "mode": None,
        "best_bid": None,
        "best_ask": None,
        "last_price": None,
        "as_of": None,
    }
    if live:
        # The engine's own tick size: a changed Market row reaches the engine only with a new journal.
        running = config._replace(tick_size=live.get("tick_size") or market.tick_size)
        row.update(
            mode=live.get("mode"),
            best_bid=_price(running, live.get("best_bid")),
            best_ask=_price(running, live.get("best_ask")),
            last_price=_price(running, live.get("last_price")),
            as_of=datetime.fromtimestamp(at, tz=UTC).isoformat() if at else None,
        )
    return row


def _price(config: Any, ticks: int | None) -> str | None:
    return None if ticks is None else codec.ticks_to_price(config, ticks)


def change_mode(
    *, market: Market, mode: str, reason: str, cancel_resting: bool, by: Any, request: Any = None
) -> dict[str, Any]:
    """Ask the shard's supervisor to switch a market's mode; audit the change when it is made.

    Returns {"ok", "error", "previous", "mode", "cancelled_orders"}; raises EngineUnavailable
    when no supervisor answers.
    """
    answer = EngineClient(market.shard).set_mode(
        market.symbol, mode, reason=reason, actor=by, cancel_resting=cancel_resting
    )
    cancelled = sum(1 for event in answer.get("events") or [] if event and event[-1] == CANCELLED)
    result = {
        "ok": bool(answer.get("ok")),
        "error": answer.get("error"),
        "symbol": market.symbol,
        "previous": answer.get("previous"),
        "mode": answer.get("mode"),
        "cancelled_orders": cancelled,
    }
    if result["ok"]:
        audit.record(
            actor=by, action="engine.mode_changed", target=market, source=AuditEntry.Source.API, request=request,
            before={"mode": result["previous"]},
            after={"mode": result["mode"], "reason": reason, "cancel_resting": cancel_resting,
                   "cancelled_orders": cancelled},
        )  # fmt: skip
    return result


def restart_engine(*, shard: str, reason: str, by: Any, request: Any = None) -> dict[str, Any]:
    """Ask the shard's supervisor to drain and restart its worker; audit it when it does."""
    answer = EngineClient(shard).restart(reason=reason, actor=by)
    result = {"ok": bool(answer.get("ok")), "error": answer.get("error"), "shard": shard,
              "previous_state": answer.get("previous_state"), "state": answer.get("state")}  # fmt: skip
    if result["ok"]:
        audit.record(
            actor=by, action="engine.restarted", target_type=f"engine shard {shard}", source=AuditEntry.Source.API,
            request=request, before={"state": result["previous_state"]},
            after={"state": result["state"], "reason": reason},
        )  # fmt: skip
    return result


def start_drill(*, shard: str, fault: str, reason: str, by: Any, request: Any = None) -> dict[str, Any]:
    """Ask the shard's supervisor to run a recovery drill; audit it when it starts."""
    answer = EngineClient(shard).drill(fault, reason=reason, actor=by)
    result = {"ok": bool(answer.get("ok")), "error": answer.get("error"), "shard": shard, "fault": fault}
    if result["ok"]:
        audit.record(
            actor=by, action="engine.drill_started", target_type=f"engine shard {shard}", source=AuditEntry.Source.API,
            request=request, after={"fault": fault, "reason": reason},
        )  # fmt: skip
    return result
