"""Decimal strings at the edge <-> integer ticks and lots inside.

Gateways call these before building a command; the core never sees a decimal. A value off the
market's grid is refused with a machine code and a reason that says which values would be valid,
never rounded: rounding someone's price is a decision the exchange must not take silently.
Arithmetic is exact (`fractions.Fraction`), so "0.30" with a tick of "0.1" is 3 ticks, and
"0.35" is refused, whatever binary floating point would have said.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .types import MarketConfig

_DECIMAL = re.compile(r"\d+(\.\d+)?")


class OffGrid(ValueError):
    """A decimal string the market cannot take; `code` is stable, `reason` is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def price_to_ticks(config: MarketConfig, text: str) -> int:
    """Convert a decimal price string to ticks of the market, refusing values off the tick grid."""
    return _to_units(text, config.tick_size, what="price", code="off_tick_grid")


def qty_to_lots(config: MarketConfig, text: str) -> int:
    """Convert a decimal quantity string to lots of the market, refusing values off the lot grid."""
    return _to_units(text, config.lot_size, what="quantity", code="off_lot_grid")


def ticks_to_price(config: MarketConfig, ticks: int) -> str:
    """Render a number of ticks as a decimal price string."""
    return _render(ticks * Fraction(config.tick_size), config.tick_size)


def lots_to_qty(config: MarketConfig, lots: int) -> str:
    """Render a number of lots as a decimal quantity string."""
    return _render(lots * Fraction(config.lot_size), config.lot_size)


def _to_units(text: object, unit: str, *, what: str, code: str) -> int:
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise OffGrid("not_a_decimal", f"{what} must be a plain decimal string like '12.5', got {text!r}")
    value = Fraction(text)
    if value <= 0:
        raise OffGrid("not_positive", f"{what} must be positive, got {text!r}")
    units = value / Fraction(unit)
    if units.denominator != 1:
        below = _render(int(units) * Fraction(unit), unit)
        above = _render((int(units) + 1) * Fraction(unit), unit)
        raise OffGrid(code, f"{what} {text} is not a multiple of {unit}; nearest valid values are {below} and {above}")
    return units.numerator


def _render(value: Fraction, unit: str) -> str:
    places = len(unit.partition(".")[2])
    scaled = value * 10**places
    whole, fraction = divmod(scaled.numerator // scaled.denominator, 10**places)
    return f"{whole}.{fraction:0{places}d}" if places else str(whole)
