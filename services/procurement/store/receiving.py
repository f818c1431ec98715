"""Receipts, purchase orders and transfers."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from services.procurement.store import T
from shared.db import is_postgres
from shared.text import BadText, code

RECEIPTS, RECEIPT_LINES = T["receipts"], T["receipt_lines"]


def insert_receipt(session: Session, row: dict[str, Any], lines: Sequence[dict[str, Any]]) -> None:
    """A booked receipt and its lines."""
    session.execute(insert(RECEIPTS).values(**row))
    session.execute(insert(RECEIPT_LINES), [{"receipt_id": row["id"], **line} for line in lines])


def receipt(session: Session, receipt_id: str) -> dict[str, Any] | None:
    """A receipt with its lines; None if unknown."""
    row = session.execute(select(RECEIPTS).where(RECEIPTS.c.id == receipt_id)).mappings().first()
    if row is None:
        return None
    lines = session.execute(
        select(RECEIPT_LINES).where(RECEIPT_LINES.c.receipt_id == receipt_id).order_by(RECEIPT_LINES.c.line_no)
    ).mappings()
    return {**dict(row), "lines": [dict(r) for r in lines]}


def receipts(session: Session, site_code: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    """Receipts newest first."""
    query = select(RECEIPTS).order_by(RECEIPTS.c.created_at.desc(), RECEIPTS.c.id)
    if site_code is not None:
        query = query.where(RECEIPTS.c.site_code == site_code)
    return [dict(r) for r in session.execute(query.limit(limit).offset(offset)).mappings()]


def set_paid(session: Session, receipt_id: str, paid_on: date) -> bool:
    """Record the invoice's payment day, once: False when it was recorded already (a receipt is an
    audit record; the database refuses a second update, see the append-only migration)."""
    query = update(RECEIPTS).where(RECEIPTS.c.id == receipt_id, RECEIPTS.c.paid_on.is_(None)).values(paid_on=paid_on)
    return bool(session.execute(query).rowcount)  # type: ignore[attr-defined]


def purchases(session: Session, item_codes: Sequence[str]) -> list[dict[str, Any]]:
    """Accepted receipt lines of the items with the receipt's day, payment and amount."""
    rows = session.execute(
        select(RECEIPT_LINES.c.item_code, RECEIPT_LINES.c.quantity, RECEIPT_LINES.c.unit_price,
               RECEIPTS.c.received_on, RECEIPTS.c.paid_on)
        .select_from(RECEIPT_LINES.join(RECEIPTS, RECEIPTS.c.id == RECEIPT_LINES.c.receipt_id))
        .where(RECEIPT_LINES.c.item_code.in_(sorted(set(item_codes))))
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def receipt_lines_of_batch(session: Session, item_code: str, batch_no: str) -> list[dict[str, Any]]:
    """Receipt lines of one batch with their receipts (recall: where the batch came in)."""
    rows = session.execute(
        select(RECEIPT_LINES, RECEIPTS.c.site_code, RECEIPTS.c.received_on, RECEIPTS.c.supplier_tax_id)
        .select_from(RECEIPT_LINES.join(RECEIPTS, RECEIPTS.c.id == RECEIPT_LINES.c.receipt_id))
        .where(RECEIPT_LINES.c.item_code == item_code, RECEIPT_LINES.c.batch_no == batch_no)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def trace_key(trace_code: str) -> str:
    """A 追溯码 as compared: a code (shared.text.code: NFKC, no blanks, upper-case). Receipts store codes in
    this form; rows stored before they did may hold "8190 1234 …" or lower case, so both sides of every
    comparison take it. Never raises (a stored value the text rule now refuses is compared as it is)."""
    try:
        return code(trace_code)
    except BadText:
        return trace_code


def batches_with_trace_code(session: Session, trace_code: str) -> list[tuple[str, str]]:
    """(item, batch) of receipt lines carrying a 追溯码 (JSON lists are searched in Python: portable)."""
    found: set[tuple[str, str]] = set()
    wanted = trace_key(trace_code)
    for row in session.execute(select(RECEIPT_LINES.c.item_code, RECEIPT_LINES.c.batch_no, RECEIPT_LINES.c.trace_codes)):
        if wanted in {trace_key(c) for c in row.trace_codes or ()}:
            found.add((row.item_code, row.batch_no))
    return sorted(found)


def lock_trace_codes(session: Session) -> None:
    """Hold the 追溯码 register until commit: one receipt carrying trace codes is checked and booked at a time.

    A trace code names one sellable package, so it is received once; two receipts of the same code
    booked side by side would both find it new. PostgreSQL: one transaction-scoped advisory lock
    (taken before any site-stock lock, so the order is always the same). SQLite: the write
    transaction already holds the whole database (BEGIN IMMEDIATE).
    """
    if not is_postgres(session):
        return
    session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended("procurement.trace_codes", 0))))


def received_trace_codes(session: Session, codes: Collection[str]) -> dict[str, str]:
    """Which of `codes` earlier receipts already carried: {code: the receipt's id}.

    The codes are kept as JSON lists per receipt line (portable), so every line with codes is read:
    linear in the codes ever received, as the recall by trace code is.
    """
    wanted = {trace_key(c): c for c in codes}
    found: dict[str, str] = {}
    if not wanted:
        return found
    query = select(RECEIPT_LINES.c.receipt_id, RECEIPT_LINES.c.trace_codes).order_by(RECEIPT_LINES.c.receipt_id)
    for row in session.execute(query):
        for stored in row.trace_codes or ():
            asked = wanted.get(trace_key(stored))
            if asked is not None:
                found.setdefault(asked, row.receipt_id)
    return found


def insert_purchase_order(session: Session, row: dict[str, Any]) -> None:
    """A new purchase order."""
    session.execute(insert(T["purchase_orders"]).values(**row))


def purchase_order(session: Session, po_id: str) -> dict[str, Any] | None:
    """A purchase order; None if unknown."""
    row = session.execute(select(T["purchase_orders"]).where(T["purchase_orders"].c.id == po_id)).mappings().first()
    return dict(row) if row else None


def purchase_orders(session: Session, limit: int, offset: int) -> list[dict[str, Any]]:
    """Purchase orders newest first."""
    table = T["purchase_orders"]
    return [dict(r) for r in session.execute(select(table).order_by(table.c.created_at.desc()).limit(limit).offset(offset)).mappings()]


def approve_purchase_order(session: Session, po_id: str, by: str, at: Any) -> bool:
    """Mark a purchase order approved and placed, once: False when it no longer awaits approval."""
    table = T["purchase_orders"]
    query = update(table).where(table.c.id == po_id, table.c.status == "pending_approval")
    return bool(session.execute(query.values(status="placed", approved_by=by, approved_at=at)).rowcount)  # type: ignore[attr-defined]


def insert_transfer(session: Session, row: dict[str, Any]) -> None:
    """A booked transfer."""
    session.execute(insert(T["transfers"]).values(**row))


def transfer(session: Session, transfer_id: str) -> dict[str, Any] | None:
    """One booked transfer, or None."""
    table = T["transfers"]
    row = session.execute(select(table).where(table.c.id == transfer_id)).mappings().first()
    return dict(row) if row else None


def transfers(session: Session, site_code: str | None, start: date | None, end: date | None) -> list[dict[str, Any]]:
    """Transfers (touching one site; between two days inclusive), newest first."""
    table = T["transfers"]
    query = select(table).order_by(table.c.day.desc(), table.c.created_at.desc())
    if site_code is not None:
        query = query.where(or_(table.c.from_site == site_code, table.c.to_site == site_code))
    if start is not None:
        query = query.where(table.c.day >= start)
    if end is not None:
        query = query.where(table.c.day <= end)
    return [dict(r) for r in session.execute(query).mappings()]
