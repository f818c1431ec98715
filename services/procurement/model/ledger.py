"""Stock by lot (batch number + expiry) and first-expiry-first-out allocation.

The stores keep an append-only ledger of movements; a lot's balance is the sum of its movements,
kept in step in the same transaction. FEFO (先到期先出) is the GSP rule for picking
(《药品经营质量管理规范》 第八十二条: 出库时 … 先产先出、近效期先出). Expired lots are never picked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


class InsufficientStock(Exception):
    """Not enough unexpired stock: `short` dispensing units missing for `item_code`."""

    def __init__(self, item_code: str, wanted: int, available: int) -> None:
        super().__init__(f"{item_code}: wanted {wanted}, {available} available")
        self.item_code, self.wanted, self.available = item_code, wanted, available

    @property
    def short(self) -> int:
        """How many units are missing."""
        return self.wanted - self.available


@dataclass(frozen=True)
class Lot:
    """One lot on hand: balance in dispensing units, unit cost in yuan (4 places)."""

    lot_id: int
    item_code: str
    batch_no: str
    expiry: date
    balance: int
    unit_cost: Decimal = Decimal("0")


@dataclass(frozen=True)
class Allocation:
    """Take `quantity` units from one lot."""

    lot: Lot
    quantity: int


def fefo_order(lots: Iterable[Lot]) -> list[Lot]:
    """Lots in picking order: earliest expiry first, then batch number, then lot id (stable)."""
    return sorted(lots, key=lambda lot: (lot.expiry, lot.batch_no, lot.lot_id))


def allocate_fefo(lots: Iterable[Lot], item_code: str, quantity: int, today: date) -> list[Allocation]:
    """Allocate `quantity` units of an item first-expiry-first-out.

    Only lots of `item_code` with a positive balance that have not expired on `today` count.
    Returns allocations whose quantities sum to `quantity`, none larger than its lot's balance.
    Raises InsufficientStock (nothing allocated) when the usable lots hold less; ValueError for
    a negative quantity.
    """
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    usable = [lot for lot in lots if lot.item_code == item_code and lot.balance > 0 and lot.expiry >= today]
    available = sum(lot.balance for lot in usable)
    if available < quantity:
        raise InsufficientStock(item_code, quantity, available)
    out: list[Allocation] = []
    left = quantity
    for lot in fefo_order(usable):
        if left == 0:
            break
        take = min(lot.balance, left)
        out.append(Allocation(lot, take))
        left -= take
    return out


def consume_fefo(lots: Iterable[Lot], item_code: str, quantity: int) -> tuple[list[Allocation], int]:
    """Take dispensed units from a site's lots FEFO without refusing: (allocations, uncovered units).

    Dispensing already happened (a pharmacist approved the prescription), so a shortfall is not
    refused but returned, to be booked against the item's unlotted balance for the next stock count.
    A lot never goes below zero.
    """
    mine = [lot for lot in lots if lot.item_code == item_code and lot.balance > 0]
    out: list[Allocation] = []
    left = quantity
    for lot in fefo_order(mine):
        if left == 0:
            break
        take = min(lot.balance, left)
        out.append(Allocation(lot, take))
        left -= take
    return out, left
