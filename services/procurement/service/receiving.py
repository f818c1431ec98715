"""Goods receipt with the 两票制 check: check only, or check and book in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from services.procurement.model import commands as c
from services.procurement.model.invoices import CheckFacts, Receipt, Violation, check_receipt
from services.procurement.model.money import amount
from services.procurement.model.pricing import latest_in_force
from services.procurement.model.requisition import ItemFacts
from services.procurement.service import SITE_ROLES, now, policy, today
from services.procurement.store import purchasing as pur
from services.procurement.store import receiving as rcv
from services.procurement.store import reference as ref
from services.procurement.store import stock
from shared.auth import Principal
from shared.db import read_only, unit_of_work
from shared.errors import Conflict, DomainError, InvalidInput, NotFound
from shared.runtime import ServiceContext


class ReceiptRefused(DomainError):
    """A receipt with blocking violations: nothing was booked; `violations` says why."""

    status = 422
    title = "Receipt refused"

    def __init__(self, violations: list[Violation]) -> None:
        fields: dict[str, str] = {}
        for v in violations:
            key = f"lines[{v.line}]" if v.line >= 0 else "receipt"
            fields[key] = f"{fields[key]}, {v.code}" if key in fields else v.code
        super().__init__("the delivery breaks the receiving rules: " + ", ".join(sorted({v.code for v in violations})), fields)
        self.violations = violations


@dataclass(frozen=True)
class CheckResult:
    """{ok, violations} and, when booked, the receipt's id."""

    ok: bool
    violations: list[Violation]
    receipt_id: str | None = None


def contract_prices(session: Session, items: Mapping[str, ItemFacts], day: date) -> dict[str, Decimal]:
    """The price a delivery may not exceed per item: the VBP winning price, else the negotiated price in force."""
    out: dict[str, Decimal] = {}
    negotiated = pur.price_records(session, "negotiated_prices", list(items))
    vbp = pur.contracts_in_force(session, items, day)
    for code in items:
        if code in vbp:
            out[code] = vbp[code].price
            continue
        record = latest_in_force(negotiated.get(code, []), day)
        if record is not None:
            out[code] = record.price
    return out


def gather_facts(ctx: ServiceContext, session: Session, receipt: Receipt) -> CheckFacts:
    """Everything check_receipt needs, read from this service's tables (InvalidInput for an unknown site)."""
    if receipt.received_on > today(ctx):
        raise InvalidInput("goods are received today or earlier", {"received_on": "in the future"})
    for i, inv in enumerate(receipt.invoices):
        if inv.issued_at > today(ctx):
            raise InvalidInput("an invoice is issued today or earlier", {f"invoices[{i}].issued_at": "in the future"})
    site = ref.site(session, receipt.site_code)
    if site is None:
        raise InvalidInput(f"no site {receipt.site_code}", {"site_code": "no such site"})
    tax_id = (site.get("snapshot") or {}).get("tax_id")
    if not tax_id:
        raise InvalidInput("the formulary holds no tax id for this site", {"site_code": "no tax_id known"})
    codes = sorted({line.item_code for line in receipt.lines})
    items = ref.item_facts(session, codes)
    return CheckFacts(
        buyer_tax_id=tax_id,
        items=items,
        manufacturers=pur.manufacturers(session, [i.manufacturer for i in items.values() if i.manufacturer]),
        authorized=pur.authorization_of(session, receipt.supplier_tax_id, codes),
        contract_prices=contract_prices(session, items, receipt.received_on),
        short_expiry_months=policy(ctx).short_expiry_months,
        today=today(ctx),
    )


TRACE_ERRORS_SHOWN = 100  # a receipt of 10,000 copies of one code is named by its first repeats, not 9,999 lines


def refuse_repeated_trace_codes(receipt: Receipt) -> None:
    """A 追溯码 names one sellable package: the same code twice in one receipt (on one line or two) is a
    422 naming each repeat as lines[i].trace_codes[j]."""
    first: dict[str, str] = {}
    repeats: dict[str, str] = {}
    for i, line in enumerate(receipt.lines):
        for j, code in enumerate(line.trace_codes):
            where = f"lines[{i}].trace_codes[{j}]"
            if code in first:
                if len(repeats) < TRACE_ERRORS_SHOWN:
                    repeats[where] = f"追溯码 {code} 重复 (trace code {code} is already at {first[code]}: a code is one package)"
            else:
                first[code] = where
    if repeats:
        raise InvalidInput(f"a trace code appears more than once in the receipt ({len(repeats)} shown)", repeats)


def refuse_received_trace_codes(session: Session, receipt: Receipt) -> None:
    """A 追溯码 an earlier receipt carried is a 409 naming the code, its place and that receipt (nothing written)."""
    codes = {code for line in receipt.lines for code in line.trace_codes}
    received = rcv.received_trace_codes(session, codes)
    if not received:
        return
    fields: dict[str, str] = {}
    for i, line in enumerate(receipt.lines):
        for j, code in enumerate(line.trace_codes):
            if code in received and len(fields) < TRACE_ERRORS_SHOWN:
                fields[f"lines[{i}].trace_codes[{j}]"] = f"追溯码 {code} 已入库 (trace code {code} was received in {received[code]})"
    shown = ", ".join(sorted(received)[:5])
    raise Conflict(f"trace codes already received in earlier receipts: {shown}{' …' if len(received) > 5 else ''}", fields)


def check_only(ctx: ServiceContext, actor: Principal, receipt: Receipt) -> CheckResult:
    """The receipt's violations, writing nothing; trace codes repeated or received before are refused as
    booking refuses them (422, 409), so a clean check means the booking will not be refused for them."""
    actor.require(*SITE_ROLES)
    actor.require_site(receipt.site_code)
    refuse_repeated_trace_codes(receipt)
    with read_only(ctx.factory) as session:
        violations = check_receipt(receipt, gather_facts(ctx, session, receipt))
        if not violations:
            refuse_received_trace_codes(session, receipt)
    return CheckResult(not violations, violations)


def book_receipt(ctx: ServiceContext, actor: Principal, cmd: c.BookReceipt) -> CheckResult:
    """Check and, with no violations, book every line as a lot (central stock at the hub, else the site's).

    All in one transaction; raises ReceiptRefused (422, nothing written) when any violation is found,
    InvalidInput (422) for a trace code twice in the receipt and Conflict (409) for one an earlier
    receipt carried (a 追溯码 names one package; the register is locked until commit).
    """
    if cmd.dry_run:
        return check_only(ctx, actor, cmd.receipt)
    actor.require(*SITE_ROLES)
    receipt = cmd.receipt
    actor.require_site(receipt.site_code)
    refuse_repeated_trace_codes(receipt)
    at = now(ctx)
    with unit_of_work(ctx.factory) as session:
        violations = check_receipt(receipt, gather_facts(ctx, session, receipt))
        if violations:
            raise ReceiptRefused(violations)
        if any(line.trace_codes for line in receipt.lines):
            rcv.lock_trace_codes(session)  # before the site-stock locks below: always the same order
            refuse_received_trace_codes(session, receipt)
        site = ref.site(session, receipt.site_code) or {}
        if not site.get("is_hub"):  # the site's stock of these items: one writer at a time (new lots included)
            stock.lock_site_stock(session, ((receipt.site_code, line.item_code) for line in receipt.lines))
        receipt_id = f"GR{at.strftime('%y%m%d')}-{uuid.uuid4().hex[:8].upper()}"
        total = amount(sum((line.unit_price * line.quantity for line in receipt.lines), Decimal("0")))
        rcv.insert_receipt(session, {
            "id": receipt_id, "site_code": receipt.site_code, "supplier_tax_id": receipt.supplier_tax_id,
            "remote_area": receipt.remote_area, "received_on": receipt.received_on, "total": total, "paid_on": None,
            "invoices": [_invoice_json(inv) for inv in receipt.invoices], "created_by": actor.subject, "created_at": at,
        }, [
            {"line_no": i, "item_code": line.item_code, "batch_no": line.batch_no, "expiry": line.expiry,
             "quantity": line.quantity, "unit_price": line.unit_price, "trace_codes": list(line.trace_codes)}
            for i, line in enumerate(receipt.lines)
        ])  # fmt: skip
        for line in receipt.lines:
            if site.get("is_hub"):
                stock.add_central_lot(session, line.item_code, line.batch_no, line.expiry, line.unit_price,
                                      line.quantity, receipt_id, line.trace_codes, at)  # fmt: skip
            else:
                stock.move_site_stock(session, receipt.site_code, line.item_code, line.batch_no, line.quantity,
                                      "direct_receipt", at=at, ref=receipt_id, actor=actor.subject, expiry=line.expiry,
                                      unit_cost=line.unit_price, trace_codes=line.trace_codes)  # fmt: skip
    return CheckResult(True, [], receipt_id)


def _invoice_json(inv: Any) -> dict[str, Any]:
    return {
        "number": inv.number, "issuer": {"name": inv.issuer.name, "tax_id": inv.issuer.tax_id},
        "recipient": {"name": inv.recipient.name, "tax_id": inv.recipient.tax_id}, "issued_at": inv.issued_at.isoformat(),
        "lines": [{"item_code": ln.item_code, "batch_no": ln.batch_no, "quantity": ln.quantity,
                   "unit_price": str(ln.unit_price)} for ln in inv.lines],
    }  # fmt: skip


def record_payment(ctx: ServiceContext, actor: Principal, cmd: c.RecordPayment) -> dict[str, Any]:
    """Record the day a receipt's invoice was paid (VBP: within 30 days of receipt)."""
    actor.require("pharmacy_manager")
    actor.require_county()
    with unit_of_work(ctx.factory) as session:
        found = rcv.receipt(session, cmd.receipt_id)
        if found is None:
            raise NotFound(f"no receipt {cmd.receipt_id}")
        if found["paid_on"] is not None:  # a receipt is an audit record: its payment is recorded once
            raise Conflict("the payment of this receipt is already recorded", {"paid_on": f"recorded as {found['paid_on']}"})
        if cmd.paid_on > today(ctx):
            raise InvalidInput("a payment is recorded once made", {"paid_on": "in the future"})
        if cmd.paid_on < found["received_on"]:
            raise InvalidInput("paid before the goods arrived", {"paid_on": f"before the receipt day {found['received_on']}"})
        if not rcv.set_paid(session, cmd.receipt_id, cmd.paid_on):  # another payment record won the race
            raise Conflict("the payment of this receipt is already recorded", {"paid_on": "recorded meanwhile"})
        return {**found, "paid_on": cmd.paid_on}
