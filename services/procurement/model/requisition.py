"""请领单 Requisition: a site's order on the central pharmacy, and its state machine.

draft → submitted → approved (quantities may be cut, with a reason) | rejected → picked →
shipped → received. Quantities are in the item's smallest dispensing unit and must be whole
packages (the formulary's `package_size`); only items on the site's stocking list may be ordered.
The flow follows OpenLMIS' requisition → approval → order → shipment → proof of delivery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import Conflict, InvalidInput


class Status(StrEnum):
    """Where a requisition is in its life."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PICKED = "picked"
    SHIPPED = "shipped"
    RECEIVED = "received"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.SUBMITTED}),
    Status.SUBMITTED: frozenset({Status.APPROVED, Status.REJECTED}),
    Status.APPROVED: frozenset({Status.PICKED}),
    Status.REJECTED: frozenset(),
    # A stop may be confirmed before the published plan reaches us: picked → shipped on delivery too.
    Status.PICKED: frozenset({Status.SHIPPED}),
    Status.SHIPPED: frozenset({Status.RECEIVED}),
    Status.RECEIVED: frozenset(),
}

DISCREPANCIES = ("none", "short", "damaged", "wrong_batch")


def check_transition(current: str, target: Status) -> None:
    """Raise Conflict unless a requisition in `current` may move to `target`."""
    if target not in TRANSITIONS[Status(current)]:
        raise Conflict(
            f"a {current} requisition cannot become {target.value}",
            {"status": f"is {current}; allowed next: {', '.join(sorted(TRANSITIONS[Status(current)])) or 'none'}"},
        )


@dataclass(frozen=True)
class ItemFacts:
    """What procurement knows about a catalogue item (from the formulary read model)."""

    code: str
    generic_name: str
    status: str
    package_size: int
    storage: str
    volume_cm3: float
    weight_g: float
    manufacturer: str | None = None
    vbp: bool = False
    dosage_form: str | None = None
    strength: str | None = None
    kind: str = "drug"

    @property
    def cold_chain(self) -> bool:
        """Cold (2–8 °C) and frozen items travel and are received under a temperature record (GSP)."""
        return self.storage in ("cold", "frozen")

    @property
    def compartment(self) -> str:
        """The vehicle compartment class the item rides in (dispatch's ambient/cold)."""
        return "cold" if self.cold_chain else "ambient"


@dataclass(frozen=True)
class OrderLine:
    """One requested item: quantity in dispensing units."""

    item_code: str
    quantity: int


def check_order_lines(
    lines: Sequence[OrderLine], items: Mapping[str, ItemFacts], stocklist: frozenset[str] | None
) -> None:
    """Raise InvalidInput naming `lines[i].field` for the first problems found.

    Rules: at least one line; no item twice; the item is active in the formulary; it is on the
    site's stocking list (None = no list known, which refuses everything); whole packages.
    """
    problems: dict[str, str] = {}
    if not lines:
        problems["lines"] = "at least one line"
    seen: set[str] = set()
    for i, line in enumerate(lines):
        item = items.get(line.item_code)
        if line.item_code in seen:
            problems[f"lines[{i}].item_code"] = "the same item twice; put it on one line"
        seen.add(line.item_code)
        if item is None or item.status != "active":
            problems[f"lines[{i}].item_code"] = "not an active item of the formulary"
            continue
        if stocklist is None or line.item_code not in stocklist:
            problems[f"lines[{i}].item_code"] = "not on this site's stocking list"
        if line.quantity <= 0 or line.quantity % item.package_size:
            problems[f"lines[{i}].quantity"] = (
                f"whole packages only: a multiple of {item.package_size} (one package)"
            )
    if problems:
        raise InvalidInput("the requisition has invalid lines", problems)


def check_approval(
    requested: Mapping[str, int], approved: Mapping[str, int], reasons: Mapping[str, str | None],
    package_sizes: Mapping[str, int],
) -> None:
    """Raise InvalidInput unless each approved quantity is 0..requested, whole packages, and a cut has a reason.

    Keys are item codes; errors name `lines[item_code].approved_quantity` / `.reason`.
    """
    problems: dict[str, str] = {}
    for code in approved:
        if code not in requested:
            problems[f"lines[{code}].item_code"] = "not on this requisition"
    for code, asked in requested.items():
        given = approved.get(code, asked)
        if given < 0 or given > asked:
            problems[f"lines[{code}].approved_quantity"] = f"between 0 and the requested {asked}"
        elif given % package_sizes.get(code, 1):
            problems[f"lines[{code}].approved_quantity"] = f"whole packages: a multiple of {package_sizes[code]}"
        elif given < asked and not (reasons.get(code) or "").strip():
            problems[f"lines[{code}].reason"] = "a cut quantity needs a reason"
    if problems:
        raise InvalidInput("the approval has invalid lines", problems)


@dataclass(frozen=True)
class ReceivedLine:
    """What a site counted off the van for one shipped line."""

    item_code: str
    batch_no: str | None
    received_quantity: int
    discrepancy: str = "none"
    note: str | None = None


def check_site_receipt(shipped: Mapping[tuple[str, str], int], received: Sequence[ReceivedLine]) -> None:
    """Raise InvalidInput unless each received line matches a shipped (item, batch) and is 0..shipped.

    A line below what was shipped needs a discrepancy (short/damaged/wrong_batch); a `none`
    discrepancy with a short count is refused so that the books never lose goods silently.
    """
    problems: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for i, line in enumerate(received):
        key = (line.item_code, line.batch_no or "")
        if key in seen:
            problems[f"lines[{i}].batch_no"] = "this item and batch twice"
        seen.add(key)
        if key not in shipped:
            problems[f"lines[{i}].batch_no"] = "not shipped on this requisition"
            continue
        if line.discrepancy not in DISCREPANCIES:
            problems[f"lines[{i}].discrepancy"] = f"one of {', '.join(DISCREPANCIES)}"
        if line.received_quantity < 0 or line.received_quantity > shipped[key]:
            problems[f"lines[{i}].received_quantity"] = f"between 0 and the shipped {shipped[key]}"
        elif line.received_quantity < shipped[key] and line.discrepancy == "none":
            problems[f"lines[{i}].discrepancy"] = "fewer than shipped: say short, damaged or wrong_batch"
    if problems:
        raise InvalidInput("the receipt has invalid lines", problems)


def split_by_batch(shipped: Mapping[tuple[str, str], int], received: Sequence[ReceivedLine]) -> list[ReceivedLine]:
    """Lines that name only the item are spread over its shipped batches in FEFO order (the order of `shipped`).

    The count fills the earliest-expiring batches first, so a shortfall lands on the latest. Raises
    InvalidInput naming `lines[i].field` for an item not shipped, a count outside 0..shipped, a short
    count without a discrepancy, or an item counted both with and without batch numbers.
    """
    problems: dict[str, str] = {}
    out: list[ReceivedLine] = []
    itemwise = {line.item_code for line in received if not line.batch_no}
    for i, line in enumerate(received):
        if line.batch_no:
            if line.item_code in itemwise:
                problems[f"lines[{i}].batch_no"] = "this item is also counted without a batch number"
            out.append(line)
            continue
        batches = [(key[1], qty) for key, qty in shipped.items() if key[0] == line.item_code]
        total = sum(qty for _, qty in batches)
        if not batches:
            problems[f"lines[{i}].item_code"] = "not shipped on this requisition"
        elif sum(1 for other in received if other.item_code == line.item_code and not other.batch_no) > 1:
            problems[f"lines[{i}].item_code"] = "this item twice"
        elif not 0 <= line.received_quantity <= total:
            problems[f"lines[{i}].received_quantity"] = f"between 0 and the shipped {total}"
        elif line.received_quantity < total and line.discrepancy == "none":
            problems[f"lines[{i}].discrepancy"] = "fewer than shipped: say short, damaged or wrong_batch"
        else:
            left = line.received_quantity
            for batch, qty in batches:
                got = min(left, qty)
                left -= got
                out.append(ReceivedLine(line.item_code, batch, got, line.discrepancy, line.note))
    if problems:
        raise InvalidInput("the receipt has invalid lines", problems)
    return out
