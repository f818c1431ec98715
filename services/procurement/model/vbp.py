"""带量采购 contracts: progress against the agreed volume, and 结余留用 (retained savings).

Sources: 国办发〔2019〕2号 (agreed volume, payment within 30 days of receipt — "医保基金 … 回款时间
不得超过30天"), 医保发〔2019〕33号 on 结余留用. Progress counts accepted receipts from distributors
only: internal transfers (调剂) move goods already counted, so they never count a volume twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from services.procurement.model.money import amount


@dataclass(frozen=True)
class Policy:
    """Configurable figures: at-risk factor, retained-savings ratios, unpaid limit (days)."""

    at_risk_factor: Decimal = Decimal("0.8")
    retention_ratio: Decimal = Decimal("0.5")
    assessment_ratio: Decimal = Decimal("1")
    unpaid_limit_days: int = 30


@dataclass(frozen=True)
class Contract:
    """One VBP contract year: agreed quantity in dispensing units, winning price in yuan.

    It names one item, or (item_code None) a generic + form + strength key (`generic_key`), which
    every product of that key then belongs to.
    """

    id: str
    item_code: str | None
    price: Decimal
    agreed_quantity: int
    start: date
    end: date
    baseline_price: Decimal | None = None
    generic_key: str | None = None

    def covers(self, item_code: str, key: str) -> bool:
        """True if purchases of the item (whose generic key is `key`) count towards this contract."""
        return item_code == self.item_code if self.item_code else key == self.generic_key

    def in_force(self, day: date) -> bool:
        """True between start and end inclusive."""
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Purchase:
    """An accepted receipt line: item, its generic key, quantity, received day, paid day."""

    item_code: str
    generic_key: str
    quantity: int
    received_on: date
    paid_on: date | None = None
    invoice_amount: Decimal = Decimal("0")


@dataclass(frozen=True)
class Progress:
    """Where a contract stands; percentages as fractions (0.42 = 42%)."""

    contract_id: str
    accepted_quantity: int
    completion: Decimal
    time_progress: Decimal
    status: str
    non_vbp_share: Decimal
    unpaid_overdue: int
    unpaid_overdue_amount: Decimal
    retained_savings: Decimal


def time_progress(contract: Contract, today: date) -> Decimal:
    """Elapsed ÷ contract days, clamped to 0..1 (both ends inclusive days)."""
    days = (contract.end - contract.start).days + 1
    elapsed = min(max((today - contract.start).days + 1, 0), days)
    return (Decimal(elapsed) / Decimal(days)).quantize(Decimal("0.0001"))


def status_of(completion: Decimal | Fraction, progress: Decimal | Fraction, policy: Policy) -> str:
    """complete | at_risk (completion < factor × time) | behind (completion < time) | on_track.

    Give it exact fractions (contract_progress does): the 4-place figures shown are rounded, and
    99,999 of 100,000 rounds to 1.0000 yet is not complete.
    """
    completion, progress = Fraction(completion), Fraction(progress)
    if completion >= 1:
        return "complete"
    if completion < Fraction(policy.at_risk_factor) * progress:
        return "at_risk"
    if completion < progress:
        return "behind"
    return "on_track"


def contract_progress(
    contract: Contract, generic_key: str, purchases: Sequence[Purchase], today: date, policy: Policy
) -> Progress:
    """Progress of one contract from the accepted purchases (any items; filtered here)."""
    in_term = [p for p in purchases if contract.start <= p.received_on <= contract.end]
    mine = [p for p in in_term if contract.covers(p.item_code, p.generic_key)]
    accepted = sum(p.quantity for p in mine)
    completion = (Decimal(accepted) / Decimal(contract.agreed_quantity)).quantize(Decimal("0.0001"))
    progress = time_progress(contract, today)
    days = (contract.end - contract.start).days + 1
    exact_progress = Fraction(min(max((today - contract.start).days + 1, 0), days), days)
    status = status_of(Fraction(accepted, contract.agreed_quantity), exact_progress, policy)
    same_generic = [p for p in in_term if p.generic_key == generic_key]
    total = sum(p.quantity for p in same_generic)
    other = sum(p.quantity for p in same_generic if not contract.covers(p.item_code, p.generic_key))
    share = (Decimal(other) / Decimal(total)).quantize(Decimal("0.0001")) if total else Decimal("0")
    overdue = [p for p in mine if p.paid_on is None and (today - p.received_on).days > policy.unpaid_limit_days]
    savings = Decimal("0")
    if contract.baseline_price is not None and contract.baseline_price > contract.price:
        savings = amount(
            (contract.baseline_price - contract.price) * accepted * policy.retention_ratio * policy.assessment_ratio
        )
    return Progress(
        contract.id, accepted, completion, progress, status, share,
        len(overdue), amount(sum((p.invoice_amount for p in overdue), Decimal("0"))), savings,
    )  # fmt: skip


def generic_key(generic_name: str, dosage_form: str | None, strength: str | None) -> str:
    """The 通用名 + 剂型 + 规格 key that groups interchangeable products."""
    return f"{generic_name}|{dosage_form or ''}|{strength or ''}"
