"""What the order gateway accepts and answers: decimal strings outside, ticks and lots inside.

Input serializers turn an order into ticks and lots with `engine.core.codec`, so a price off
the tick (or a quantity off the lot) is a field error that names the nearest valid values.
Output serializers only document the dicts `engine.gateway` builds (the schema clients read).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from engine import gateway
from engine.core import codec
from engine.core.types import CANCEL_NEWEST, GTC, IOC, MAX_CLIENT_ORDER_ID_LENGTH, MAX_TICKS, MODES, SIDES, STPS, TIFS
from engine.health import SECOND_SERIES_LONGEST
from engine.models import Market
from engine.streams import DEFAULT_SHARD

MAX_BATCH = 1_000
MAX_HEALTH_WINDOW = timedelta(days=90)  # what the minute roll-ups keep
DECIMAL_MAX_LENGTH = 40  # far more digits than any market needs, and cheap to convert


class DecimalStringField(serializers.CharField):
    """A decimal sent as a JSON string ("12.50"): a JSON number may already have lost digits."""

    default_error_messages = {"not_a_string": 'Send decimals as strings, like "12.50".'}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", DECIMAL_MAX_LENGTH)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class OrderSerializer(serializers.Serializer):
    """A new order; the account is the caller's."""

    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=SIDES)
    type = serializers.ChoiceField(choices=gateway.ORDER_TYPES)
    price = DecimalStringField(required=False, help_text="Limit orders only, on the market's tick.")
    quantity = DecimalStringField(help_text="On the market's lot.")
    time_in_force = serializers.ChoiceField(
        choices=TIFS, required=False, help_text="Limit orders: default gtc. Market orders: omit it, or ioc."
    )
    client_order_id = serializers.CharField(max_length=MAX_CLIENT_ORDER_ID_LENGTH, trim_whitespace=False)
    stp = serializers.ChoiceField(choices=STPS, default=CANCEL_NEWEST, help_text="Self-trade prevention.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        market = self._market(attrs["symbol"])
        config = market.config()
        errors: dict[str, list[str]] = {}
        ticks = None
        if attrs["type"] == gateway.LIMIT:
            attrs.setdefault("time_in_force", GTC)
            if "price" not in attrs:
                errors["price"] = ["A limit order needs a price."]
            else:
                ticks = _units(errors, "price", codec.price_to_ticks, config, attrs["price"])
        else:
            if "price" in attrs:
                errors["price"] = ["A market order takes no price: it trades at the best prices available."]
            if attrs.get("time_in_force", IOC) != IOC:
                errors["time_in_force"] = ["A market order is always ioc: omit time_in_force or send ioc."]
        lots = _units(errors, "quantity", codec.qty_to_lots, config, attrs["quantity"])
        if errors:
            raise serializers.ValidationError(errors)
        return {**attrs, "market": market, "ticks": ticks, "lots": lots}

    def _market(self, symbol: str) -> Market:
        markets = self.context.get("markets")
        market = markets.get(symbol) if markets is not None else Market.objects.filter(symbol=symbol).first()
        if market is None:
            known = ", ".join(Market.objects.values_list("symbol", flat=True)) or "none"
            raise serializers.ValidationError({"symbol": [f"No market {symbol!r}. Markets: {known}."]})
        return market


def _units(errors: dict[str, list[str]], name: str, convert: Any, config: Any, text: str) -> int | None:
    """Convert with the codec, collecting its refusal as a field error."""
    try:
        units = convert(config, text)
    except codec.OffGrid as error:
        errors[name] = [error.reason]
        return None
    if units > MAX_TICKS:
        errors[name] = [f"{name} {text} is above the engine's limit."]
        return None
    return units


class OrderBatchSerializer(serializers.Serializer):
    orders = OrderSerializer(many=True, allow_empty=False, max_length=MAX_BATCH)


class ModeChangeSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=MODES)
    reason = serializers.CharField(max_length=500, help_text="Why: kept in the audit log and the engine's events.")
    cancel_resting = serializers.BooleanField(default=False, help_text="Cancel the market's resting orders first.")


class EngineRestartSerializer(serializers.Serializer):
    shard = serializers.CharField(max_length=32, default=DEFAULT_SHARD)
    reason = serializers.CharField(max_length=500, help_text="Why: kept in the audit log and the engine's events.")


class DrillRequestSerializer(serializers.Serializer):
    shard = serializers.CharField(max_length=32, default=DEFAULT_SHARD)
    fault = serializers.ChoiceField(choices=["crash", "hang"], help_text="SIGKILL or SIGSTOP the worker under load.")
    reason = serializers.CharField(max_length=500, help_text="Why: kept in the audit log and the engine's events.")


@extend_schema_field(OpenApiTypes.STR)
class InstantField(serializers.Field):
    """A moment: seconds since the epoch (`1763880000.5`) or ISO 8601 (`2026-11-23T10:00:00Z`)."""

    default_error_messages = {"invalid": "Give seconds since the epoch or an ISO 8601 time, like 2026-11-23T10:00:00Z."}

    def to_internal_value(self, data: Any) -> datetime:
        text = str(data).strip()
        try:
            moment = datetime.fromtimestamp(float(text), tz=UTC)
        except (ValueError, OverflowError, OSError):
            moment = parse_datetime(text.replace(" ", "+"))  # a "+" in a query string arrives as a space
            if moment is None:
                self.fail("invalid")
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return moment

    def to_representation(self, value: datetime) -> float:
        return value.timestamp()


class HealthQuerySerializer(serializers.Serializer):
    shard = serializers.CharField(max_length=32, default=DEFAULT_SHARD)
    since = InstantField(help_text="Start of the window (epoch seconds or ISO 8601).")
    until = InstantField(required=False, help_text="End of the window; default now.")
    resolution = serializers.ChoiceField(choices=["auto", "1s", "1m"], default="auto")

    def validate(self, data: dict) -> dict:
        now = datetime.now(tz=UTC)
        data.setdefault("until", now)
        if data["until"] <= data["since"]:
            raise serializers.ValidationError({"until": ["The window must end after it starts (since)."]})
        if data["until"] - data["since"] > MAX_HEALTH_WINDOW:
            raise serializers.ValidationError({"since": [f"Ask for at most {MAX_HEALTH_WINDOW.days} days at once."]})
        if data["resolution"] == "1s" and data["until"] - data["since"] > SECOND_SERIES_LONGEST:
            hours = SECOND_SERIES_LONGEST.total_seconds() / 3600
            raise serializers.ValidationError({"resolution": [f"One-second points come {hours:g} hours at a time."]})
        return data


# -- answers (documentation of the dicts engine.gateway builds) ----------------------------


class TradeSerializer(serializers.Serializer):
    price = serializers.CharField()
    quantity = serializers.CharField()
    maker_order_id = serializers.IntegerField()


class CancelledRestingSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    quantity = serializers.CharField()
    reason = serializers.CharField()


class OrderStateSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    client_order_id = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=SIDES)
    type = serializers.ChoiceField(choices=gateway.ORDER_TYPES)
    time_in_force = serializers.CharField(allow_null=True)
    price = serializers.CharField(allow_null=True)
    quantity = serializers.CharField()
    filled_quantity = serializers.CharField()
    open_quantity = serializers.CharField()
    status = serializers.ChoiceField(
        choices=[gateway.RESTING, gateway.PARTIALLY_FILLED, gateway.FILLED, gateway.CANCELLED_STATUS]
    )
    cancel_reason = serializers.CharField(allow_null=True, help_text="Why the order left the book: ioc, market, stp.")
    trades = TradeSerializer(many=True)
    cancelled_resting = CancelledRestingSerializer(
        many=True, help_text="The account's resting orders this one cancelled (self-trade prevention)."
    )


class RejectionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[gateway.REJECTED_STATUS, gateway.UNKNOWN])
    client_order_id = serializers.CharField()
    symbol = serializers.CharField()
    code = serializers.CharField(help_text="Stable machine code, e.g. post_only_would_take.")
    detail = serializers.CharField()


class BatchResultSerializer(serializers.Serializer):
    """One order's result: an order state, or a rejection (status rejected or unknown)."""

    status = serializers.CharField()
    client_order_id = serializers.CharField()
    symbol = serializers.CharField()
    order_id = serializers.IntegerField(required=False)
    side = serializers.CharField(required=False)
    type = serializers.CharField(required=False)
    time_in_force = serializers.CharField(required=False, allow_null=True)
    price = serializers.CharField(required=False, allow_null=True)
    quantity = serializers.CharField(required=False)
    filled_quantity = serializers.CharField(required=False)
    open_quantity = serializers.CharField(required=False)
    cancel_reason = serializers.CharField(required=False, allow_null=True)
    trades = TradeSerializer(many=True, required=False)
    cancelled_resting = CancelledRestingSerializer(many=True, required=False)
    code = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)


class BatchAnswerSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)


class CancelAnswerSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    symbol = serializers.CharField()
    status = serializers.ChoiceField(choices=[gateway.CANCELLED_STATUS])
    cancelled_quantity = serializers.CharField()


class EngineErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class MarketSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    shard = serializers.CharField()
    tick_size = serializers.CharField()
    lot_size = serializers.CharField()
    min_quantity = serializers.CharField()
    max_quantity = serializers.CharField()
    band_bps = serializers.IntegerField(allow_null=True)
    reference_price = serializers.CharField(allow_null=True)
    mode = serializers.CharField(allow_null=True, help_text="The engine's current mode; null when it is not running.")
    best_bid = serializers.CharField(allow_null=True)
    best_ask = serializers.CharField(allow_null=True)
    last_price = serializers.CharField(allow_null=True)
    as_of = serializers.DateTimeField(allow_null=True, help_text="Time of the engine snapshot these come from.")


class ModeChangeAnswerSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    previous = serializers.CharField(allow_null=True)
    mode = serializers.CharField()
    cancelled_orders = serializers.IntegerField()


class EngineControlAnswerSerializer(serializers.Serializer):
    shard = serializers.CharField()
    previous_state = serializers.CharField(allow_null=True, required=False)
    state = serializers.CharField(allow_null=True, required=False)
    fault = serializers.CharField(required=False)


class HealthWindowSerializer(serializers.Serializer):
    shard = serializers.CharField()
    since = serializers.FloatField()
    until = serializers.FloatField()
    resolution = serializers.ChoiceField(choices=["1s", "1m"])
    metrics = serializers.ListField(child=serializers.DictField(), help_text="Metrics snapshots, oldest first.")
    events = serializers.ListField(child=serializers.DictField(), help_text="Engine events, oldest first.")
    status = serializers.DictField(allow_null=True, help_text="The supervisor's latest status.")
    last_seq = serializers.IntegerField(allow_null=True, help_text="The newest live message's sequence number.")
