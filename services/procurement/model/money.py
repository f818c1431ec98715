"""Money as Decimal yuan: unit prices to 4 places, amounts to 2 (人民币元, 分 = 0.01)."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

UNIT_PRICE_PLACES = Decimal("0.0001")
AMOUNT_PLACES = Decimal("0.01")
# A plain decimal as people write a price: digits, an optional point and more digits. No exponent
# ("1e3"), no digit-group underscores ("1_000"), no NaN/Infinity (Python's Decimal accepts all of these).
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_MAX_INTEGER_DIGITS = 15  # far above any price (the schemas cap prices at 10^6 yuan); keeps quantize exact


def unit_price(value: str | int | Decimal) -> Decimal:
    """A unit price in yuan with 4 decimal places; raises ValueError for anything else.

    Floats are refused on purpose: prices travel as decimal strings ("1.2300").
    Strings must be plain decimals (NFKC first, so full-width digits are read): "1e3", "1_000",
    "NaN" and "Infinity" are refused, as is anything with more than 15 integer digits (which
    would overflow the decimal context's precision when quantized). "-0" is 0.
    """
    if isinstance(value, float):
        raise ValueError("prices are decimal strings, not floats")
    if isinstance(value, str):
        value = unicodedata.normalize("NFKC", value).strip()
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise ValueError(f"not a plain decimal amount such as \"1.2300\": {value[:40]!r}")
    try:
        price = Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not price.is_finite():
        raise ValueError("not a finite amount")
    if price.adjusted() >= _MAX_INTEGER_DIGITS:
        raise ValueError(f"too large: more than {_MAX_INTEGER_DIGITS} digits before the point")
    if price != price.quantize(UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP):
        raise ValueError("at most 4 decimal places")
    return price.quantize(UNIT_PRICE_PLACES) + 0  # + 0 turns -0 into 0


def amount(value: Decimal) -> Decimal:
    """An amount in yuan rounded half-up to the fen (0.01)."""
    return value.quantize(AMOUNT_PLACES, rounding=ROUND_HALF_UP)


def price_text(value: Decimal) -> str:
    """A unit price as its 4-place decimal string."""
    return str(value.quantize(UNIT_PRICE_PLACES))
