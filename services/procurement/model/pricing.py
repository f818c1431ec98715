"""The price a purchase is made at: 中选价, else 二次议价, else 挂网价.

Rules (issue 10, after 国办发〔2019〕2号 on national VBP and the provinces' 挂网 rules):
- a VBP item is bought at exactly its winning price (中选价): no negotiation either way;
- otherwise the latest negotiated price (二次议价) in force on the day, if any;
- otherwise the provincial listed price (挂网价).
A negotiated price is refused for VBP items and nationally negotiated drugs (国谈药, whose price
is set nationally), and must be strictly below the listed price in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.errors import InvalidInput


@dataclass(frozen=True)
class PriceRecord:
    """A price in force from `effective_from` until `effective_to` (inclusive; None = open)."""

    item_code: str
    price: Decimal
    effective_from: date
    effective_to: date | None = None
    recorded_seq: int = 0

    def in_force(self, day: date) -> bool:
        """True on days between effective_from and effective_to inclusive."""
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


@dataclass(frozen=True)
class ListedPrice(PriceRecord):
    """挂网价 from the provincial platform; `national_negotiated` marks 国谈药."""

    national_negotiated: bool = False


@dataclass(frozen=True)
class AppliedPrice:
    """The price used and where it came from: basis is vbp | negotiated | listed."""

    price: Decimal
    basis: str


def latest_in_force(records: Sequence[PriceRecord], day: date) -> PriceRecord | None:
    """The record in force on `day` that starts latest (then the one recorded last); None if none."""
    live = [r for r in records if r.in_force(day)]
    return max(live, key=lambda r: (r.effective_from, r.recorded_seq)) if live else None


def applicable_price(
    day: date, vbp_price: Decimal | None, negotiated: Sequence[PriceRecord], listed: Sequence[PriceRecord]
) -> AppliedPrice | None:
    """The purchase price on `day`; None when nothing is known (no contract, negotiation or listing)."""
    if vbp_price is not None:
        return AppliedPrice(vbp_price, "vbp")
    chosen = latest_in_force(negotiated, day)
    if chosen is not None:
        return AppliedPrice(chosen.price, "negotiated")
    chosen = latest_in_force(listed, day)
    if chosen is not None:
        return AppliedPrice(chosen.price, "listed")
    return None


def check_negotiated(
    record: PriceRecord, is_vbp: bool, listed: Sequence[ListedPrice]
) -> None:
    """Raise InvalidInput (naming the field) unless a negotiated price may be recorded.

    Refused for VBP items and 国谈药; requires a listed price in force on effective_from and a
    price strictly below it; effective_to, if given, is not before effective_from.
    """
    if record.effective_to is not None and record.effective_to < record.effective_from:
        raise InvalidInput("the price ends before it starts", {"effective_to": "before effective_from"})
    if record.price <= 0:
        raise InvalidInput("a price is positive", {"price": "must be greater than 0"})
    if is_vbp:
        raise InvalidInput("VBP items are bought at the winning price: no negotiation", {"item_code": "a VBP (集采) item"})
    current = latest_in_force(listed, record.effective_from)
    if isinstance(current, ListedPrice) and current.national_negotiated:
        raise InvalidInput("nationally negotiated drugs keep their national price", {"item_code": "a 国谈 drug"})
    if current is None:
        raise InvalidInput("no listed price (挂网价) in force to negotiate below", {"item_code": "no listed price"})
    if record.price >= current.price:
        raise InvalidInput(f"must be below the listed price {current.price}", {"price": f"not below the listed price {current.price}"})
