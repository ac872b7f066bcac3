"""The order gateway's endpoints: markets, orders (one, a batch, a cancel) and market modes.

Thin: serializers validate, `engine.gateway` talks to the engine, this maps outcomes to HTTP.
201 an order the engine accepted, 422 one it refused (its code and reason), 503 with
Retry-After when the engine cannot answer; never a 500 for anything a client sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from console.permissions import Capability, HasCapability, IsConsoleUser
from engine import gateway
from engine.client import EngineUnavailable, connection
from engine.core.types import MAX_TICKS
from engine.health import current_status, history, sequence_key
from engine.models import Market
from engine.serializers import (
    BatchAnswerSerializer,
    CancelAnswerSerializer,
    DrillRequestSerializer,
    EngineControlAnswerSerializer,
    EngineErrorSerializer,
    EngineRestartSerializer,
    HealthQuerySerializer,
    HealthWindowSerializer,
    MarketSerializer,
    ModeChangeAnswerSerializer,
    ModeChangeSerializer,
    OrderBatchSerializer,
    OrderSerializer,
    OrderStateSerializer,
    RejectionSerializer,
)
from engine.streams import public_status

UNAVAILABLE = OpenApiResponse(EngineErrorSerializer, description="The engine cannot answer now; see Retry-After.")
FIELD_ERRORS = OpenApiResponse(description="Field errors: {field: [messages]}.")


class TradingThrottle(UserRateThrottle):
    """At most `TRADING_RATE_LIMIT` trading requests per user (a batch counts once)."""

    scope = "trading"


THROTTLED = OpenApiResponse(description="Too many trading requests: wait for Retry-After seconds.")


class CanTrade(BasePermission):
    """DRF permission: the user holds `engine.trade` (sends orders for their own account)."""

    message = "Trading needs the engine.trade permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("engine.trade"))


def unavailable(error: EngineUnavailable) -> Response:
    """A 503 saying when to try again."""
    body = {"code": gateway.ENGINE_UNAVAILABLE, "detail": error.reason}
    return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(error.retry_after)})


def markets_by_symbol() -> dict[str, Market]:
    return {market.symbol: market for market in Market.objects.all()}


@extend_schema(responses=MarketSerializer(many=True))
@api_view(["GET"])
@permission_classes([IsConsoleUser | CanTrade])
def markets(request: Request) -> Response:
    """List the markets: configuration, and the engine's mode and top of book (null when it is not running)."""
    return Response(gateway.market_overview(Market.objects.all()))


@extend_schema(
    request=OrderSerializer,
    responses={
        201: OrderStateSerializer,
        400: FIELD_ERRORS,
        422: OpenApiResponse(RejectionSerializer, description="The engine refused the order; nothing changed."),
        429: THROTTLED,
        503: UNAVAILABLE,
    },
)
@api_view(["POST"])
@permission_classes([CanTrade])
@throttle_classes([TradingThrottle])
def place_order(request: Request) -> Response:
    """Send an order for your account and wait for the engine's acknowledgement."""
    serializer = OrderSerializer(data=request.data, context={"markets": markets_by_symbol()})
    serializer.is_valid(raise_exception=True)
    try:
        [result] = gateway.place_orders(account=request.user.pk, orders=[serializer.validated_data])
    except EngineUnavailable as error:
        return unavailable(error)
    if result["status"] == gateway.REJECTED_STATUS:
        return Response(result, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    return Response(result, status=status.HTTP_201_CREATED)


@extend_schema(
    request=OrderBatchSerializer,
    responses={200: BatchAnswerSerializer, 400: FIELD_ERRORS, 429: THROTTLED, 503: UNAVAILABLE},
)
@api_view(["POST"])
@permission_classes([CanTrade])
@throttle_classes([TradingThrottle])
def place_batch(request: Request) -> Response:
    """Send up to 1,000 orders at once (one stream entry per shard); one result per order, in order.

    Any field error refuses the whole batch before anything is sent: a 400 whose `orders` maps
    the index of each order in error to its field errors.
    """
    serializer = OrderBatchSerializer(data=request.data, context={"markets": markets_by_symbol()})
    serializer.is_valid(raise_exception=True)
    try:
        results = gateway.place_orders(account=request.user.pk, orders=serializer.validated_data["orders"])
    except EngineUnavailable as error:
        return unavailable(error)
    return Response({"results": results})


@extend_schema(
    parameters=[OpenApiParameter("symbol", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True)],
    responses={
        200: CancelAnswerSerializer,
        400: FIELD_ERRORS,
        404: OpenApiResponse(EngineErrorSerializer, description="You have no resting order with this id."),
        422: OpenApiResponse(EngineErrorSerializer, description="The engine refused the cancel."),
        429: THROTTLED,
        503: UNAVAILABLE,
    },
)
@api_view(["DELETE"])
@permission_classes([CanTrade])
@throttle_classes([TradingThrottle])
def cancel_order(request: Request, order_id: int) -> Response:
    """Cancel one of your resting orders (the market named by ?symbol=)."""
    symbol = request.query_params.get("symbol")
    if not symbol:
        raise ValidationError({"symbol": ["Name the order's market: ?symbol=BTC-USD."]})
    market = markets_by_symbol().get(symbol)
    if market is None:
        raise ValidationError({"symbol": [f"No market {symbol!r}."]})
    if not 0 < order_id <= MAX_TICKS:  # order ids are sequence numbers: no larger one can exist
        body = {"code": gateway.UNKNOWN_ORDER, "detail": f"You have no resting order {order_id} in {symbol}."}
        return Response(body, status=status.HTTP_404_NOT_FOUND)
    try:
        result = gateway.cancel_order(market=market, account=request.user.pk, order_id=order_id)
    except EngineUnavailable as error:
        return unavailable(error)
    if result["status"] == gateway.REJECTED_STATUS:
        code = status.HTTP_404_NOT_FOUND if result["code"] == gateway.UNKNOWN_ORDER else 422
        return Response({"code": result["code"], "detail": result["detail"]}, status=code)
    return Response(result)


@extend_schema(
    request=ModeChangeSerializer,
    responses={
        200: ModeChangeAnswerSerializer,
        400: FIELD_ERRORS,
        404: OpenApiResponse(description="No such market."),
        422: OpenApiResponse(EngineErrorSerializer, description="The supervisor or the engine refused the change."),
        503: UNAVAILABLE,
    },
)
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.CONTROL_ENGINE)])
def change_mode(request: Request, symbol: str) -> Response:
    """Switch a market's mode (open, post_only, cancel_only, halted) through the engine's supervisor."""
    market = get_object_or_404(Market, symbol=symbol)
    serializer = ModeChangeSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    try:
        result = gateway.change_mode(
            market=market, mode=data["mode"], reason=data["reason"], cancel_resting=data["cancel_resting"],
            by=request.user, request=request,
        )  # fmt: skip
    except EngineUnavailable as error:
        return unavailable(error)
    if not result.pop("ok"):
        body = {"code": "mode_change_refused", "detail": result["error"] or "refused"}
        return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    del result["error"]
    return Response(result)


# -- live health and engine controls (the dashboard) -----------------------------------------


@extend_schema(parameters=[HealthQuerySerializer], responses={200: HealthWindowSerializer, 400: FIELD_ERRORS})
@api_view(["GET"])
@permission_classes([IsConsoleUser])
def health(request: Request) -> Response:
    """A window of the engine's health: one-second snapshots for recent hours, per minute beyond; events.

    What a dashboard fetches on load and after a reconnect (to fill the gap it missed), and
    what history charts draw.
    """
    query = HealthQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    redis_client = connection(settings.REDIS_URL)
    try:
        last_seq = redis_client.get(sequence_key(data["shard"]))
    except redis.RedisError:  # the stored minutes still answer
        last_seq, redis_client = None, None
    window = history(data["shard"], data["since"], data["until"], resolution=data["resolution"],
                     redis_client=redis_client)  # fmt: skip
    status = current_status(redis_client, data["shard"]) if redis_client is not None else None
    window["status"] = public_status(status) if status else None
    window["last_seq"] = int(last_seq) if last_seq else None
    return Response(window)


def _control_answer(result: dict) -> Response:
    if not result.pop("ok"):
        body = {"code": "engine_control_refused", "detail": result["error"] or "refused"}
        return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    del result["error"]
    return Response(result)


CONTROL_RESPONSES = {
    200: EngineControlAnswerSerializer,
    400: FIELD_ERRORS,
    422: OpenApiResponse(EngineErrorSerializer, description="The supervisor refused."),
    503: UNAVAILABLE,
}


def _control(request: Request, serializer_class: type, send: Callable[..., dict]) -> Response:
    """Validate a control request, send it to the supervisor through `send`, answer as it did."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        result = send(by=request.user, request=request, **serializer.validated_data)
    except EngineUnavailable as error:
        return unavailable(error)
    return _control_answer(result)


@extend_schema(request=EngineRestartSerializer, responses=CONTROL_RESPONSES)
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.CONTROL_ENGINE)])
def restart_engine(request: Request) -> Response:
    """Drain the engine's worker and start a new one (also restarts an engine that gave up: `failed`)."""
    return _control(request, EngineRestartSerializer, gateway.restart_engine)


@extend_schema(request=DrillRequestSerializer, responses=CONTROL_RESPONSES)
@api_view(["POST"])
@permission_classes([HasCapability.requires(Capability.CONTROL_ENGINE)])
def start_drill(request: Request) -> Response:
    """Start a recovery drill (crash or hang) under simulated load; its RTO and RPO arrive as engine events."""
    return _control(request, DrillRequestSerializer, gateway.start_drill)
