"""Money as Decimal yuan: unit prices to 4 places, amounts to 2 (人民币元, 分 = 0.01)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

UNIT_PRICE_PLACES = Decimal("0.0001")
AMOUNT_PLACES = Decimal("0.01")


def unit_price(value: str | int | Decimal) -> Decimal:
    """A unit price in yuan with 4 decimal places; raises ValueError for anything else.

    Floats are refused on purpose: prices travel as decimal strings ("1.2300").
    """
    if isinstance(value, float):
        raise ValueError("prices are decimal strings, not floats")
    try:
        price = Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not price.is_finite():
        raise ValueError("not a finite amount")
    if price != price.quantize(UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP):
        raise ValueError("at most 4 decimal places")
    return price.quantize(UNIT_PRICE_PLACES)


def amount(value: Decimal) -> Decimal:
    """An amount in yuan rounded half-up to the fen (0.01)."""
    return value.quantize(AMOUNT_PLACES, rounding=ROUND_HALF_UP)


def price_text(value: Decimal) -> str:
    """A unit price as its 4-place decimal string."""
    return str(value.quantize(UNIT_PRICE_PLACES))
