"""调剂 Transfer between member sites at cost, and the monthly settlement statement.

Rule source: the seed document ("对不经常使用的部分药品品种，在医共体内部调剂结算"). A transfer
is valued at the lots' cost (what the community paid); each month, each pair of sites owes the
difference of what went each way. Every pair's two entries are opposite, so the statement sums
to zero across the community.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.procurement.model.money import amount


@dataclass(frozen=True)
class TransferValue:
    """A booked transfer: from one site to another on a day, valued at cost in yuan."""

    from_site: str
    to_site: str
    day: date
    value: Decimal


@dataclass(frozen=True, order=True)
class SettlementEntry:
    """What `site` owes `counterparty` for the month (negative: it is owed)."""

    site: str
    counterparty: str
    payable: Decimal
    received_value: Decimal
    sent_value: Decimal


def month_of(day: date) -> str:
    """YYYY-MM."""
    return f"{day.year:04d}-{day.month:02d}"


def settle_month(transfers: Iterable[TransferValue], month: str) -> list[SettlementEntry]:
    """The month's statement: two opposite entries per pair of sites that traded, sorted.

    `payable` = value received from the counterparty − value sent to it, rounded to the fen;
    the pair's entries are exact negatives of each other, so the total is exactly 0.
    """
    flows: dict[tuple[str, str], Decimal] = {}
    for t in transfers:
        if month_of(t.day) != month or t.from_site == t.to_site:
            continue
        flows[(t.from_site, t.to_site)] = flows.get((t.from_site, t.to_site), Decimal("0")) + t.value
    pairs = {tuple(sorted(k)) for k in flows}
    out: list[SettlementEntry] = []
    for a, b in sorted(pairs):
        b_to_a = flows.get((b, a), Decimal("0"))
        a_to_b = flows.get((a, b), Decimal("0"))
        net = amount(b_to_a - a_to_b)
        out.append(SettlementEntry(a, b, net, amount(b_to_a), amount(a_to_b)))
        out.append(SettlementEntry(b, a, -net, amount(a_to_b), amount(b_to_a)))
    return sorted(out)
