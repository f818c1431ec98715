"""Replenishment suggestions and near-expiry (近效期) alerts.

Suggested order (periodic review with a safety stock, the textbook order-up-to rule, e.g.
Silver, Pyke & Thomas, *Inventory and Production Management*, ch. 6):
    target = average daily consumption × (lead time + safety days)
    suggest = target − on hand − on order, rounded up to whole packages, never negative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from services.procurement.model.invoices import add_months


@dataclass(frozen=True)
class Suggestion:
    """A suggested order for one item: quantity in dispensing units (whole packages)."""

    item_code: str
    on_hand: int
    on_order: int
    avg_daily: float
    target: int
    suggested: int


def suggest_order(
    item_code: str, on_hand: int, on_order: int, consumed: int, window_days: int,
    lead_time_days: int, safety_days: int, package_size: int,
) -> Suggestion:
    """The order-up-to suggestion from `consumed` units over the last `window_days` days."""
    # Exact arithmetic: in floats 29 / 7 × 7 is 29.000000000000004, whose ceiling orders one unit (a package) too many.
    avg = Fraction(consumed, window_days) if window_days > 0 else Fraction(0)
    target = math.ceil(avg * (lead_time_days + safety_days))
    gap = target - on_hand - on_order
    packs = math.ceil(gap / package_size) if gap > 0 else 0
    return Suggestion(item_code, on_hand, on_order, round(float(avg), 3), target, packs * package_size)


@dataclass(frozen=True)
class LotOnHand:
    """A lot somewhere in the community: `where` is "central" or a site code."""

    where: str
    item_code: str
    batch_no: str
    expiry: date
    balance: int


def near_expiry(lots: Iterable[LotOnHand], today: date, months: int) -> list[LotOnHand]:
    """Lots with stock that expire within `months` of today (expired ones too), soonest first."""
    limit = add_months(today, months)
    return sorted(
        (lot for lot in lots if lot.balance > 0 and lot.expiry <= limit),
        key=lambda lot: (lot.expiry, lot.where, lot.item_code, lot.batch_no),
    )
