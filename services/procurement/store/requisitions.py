"""Requisitions, their lines and allocations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from services.procurement.model.ledger import Allocation
from services.procurement.store import T
from shared.db import lock_for_update

REQ, LINES, ALLOC = T["requisitions"], T["requisition_lines"], T["allocations"]


def insert_requisition(session: Session, row: dict[str, Any], lines: Sequence[tuple[str, int]]) -> None:
    """A new requisition and its lines (line_no from 1)."""
    session.execute(insert(REQ).values(**row))
    session.execute(
        insert(LINES),
        [{"requisition_id": row["id"], "line_no": i, "item_code": code, "quantity": qty} for i, (code, qty) in enumerate(lines, 1)],
    )


def lock_requisition(session: Session, requisition_id: str) -> dict[str, Any] | None:
    """The requisition's row, locked until commit; None if unknown."""
    row = session.execute(lock_for_update(select(REQ).where(REQ.c.id == requisition_id), session)).mappings().first()
    return dict(row) if row else None


def requisition_id_by_key(session: Session, created_by: str, idempotency_key: str) -> str | None:
    """Id of the requisition `created_by` already made with this Idempotency-Key, or None."""
    return session.execute(
        select(REQ.c.id).where(REQ.c.created_by == created_by, REQ.c.idempotency_key == idempotency_key)
    ).scalar_one_or_none()


def requisition(session: Session, requisition_id: str) -> dict[str, Any] | None:
    """The requisition with its lines and allocations; None if unknown."""
    row = session.execute(select(REQ).where(REQ.c.id == requisition_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["lines"] = lines_of(session, requisition_id)
    out["allocations"] = allocations_of(session, requisition_id)
    return out


def lines_of(session: Session, requisition_id: str) -> list[dict[str, Any]]:
    """The requisition's lines in order."""
    rows = session.execute(select(LINES).where(LINES.c.requisition_id == requisition_id).order_by(LINES.c.line_no))
    return [dict(r) for r in rows.mappings()]


def allocations_of(session: Session, requisition_id: str) -> list[dict[str, Any]]:
    """The lots picked for the requisition (FEFO order per item)."""
    rows = session.execute(select(ALLOC).where(ALLOC.c.requisition_id == requisition_id).order_by(ALLOC.c.id))
    return [dict(r) for r in rows.mappings()]


def set_status(session: Session, requisition_id: str, status: str, at: datetime, **values: Any) -> None:
    """Move the requisition to `status` (version + 1) with any other columns."""
    session.execute(
        update(REQ).where(REQ.c.id == requisition_id).values(status=status, updated_at=at, version=REQ.c.version + 1, **values)
    )


def set_approved_quantities(session: Session, requisition_id: str, approved: dict[str, tuple[int, str | None]]) -> None:
    """Approved quantity and cut reason per item code."""
    if not approved:
        return
    session.execute(
        update(LINES).where(LINES.c.requisition_id == requisition_id, LINES.c.item_code == bindparam("code"))
        .values(approved_quantity=bindparam("qty"), cut_reason=bindparam("reason")),
        [{"code": code, "qty": qty, "reason": reason} for code, (qty, reason) in approved.items()],
    )  # fmt: skip


def insert_allocations(session: Session, requisition_id: str, allocations: Sequence[Allocation]) -> None:
    """Record which lots were picked for the requisition."""
    if allocations:
        session.execute(insert(ALLOC), [
            {"requisition_id": requisition_id, "item_code": a.lot.item_code, "lot_id": a.lot.lot_id, "batch_no": a.lot.batch_no,
             "expiry": a.lot.expiry, "unit_cost": a.lot.unit_cost, "quantity": a.quantity}
            for a in allocations
        ])  # fmt: skip


def record_received(session: Session, allocation_id: int, quantity: int, discrepancy: str, note: str | None) -> None:
    """What the site counted for one picked lot."""
    session.execute(
        update(ALLOC).where(ALLOC.c.id == allocation_id).values(received_quantity=quantity, discrepancy=discrepancy, note=note)
    )


def by_shipments(session: Session, shipment_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Requisitions travelling as these shipments."""
    if not shipment_ids:
        return []
    return [dict(r) for r in session.execute(select(REQ).where(REQ.c.shipment_id.in_(list(shipment_ids)))).mappings()]


def update_requisition(session: Session, requisition_id: str, **values: Any) -> None:
    """Set columns without changing the status."""
    session.execute(update(REQ).where(REQ.c.id == requisition_id).values(**values))


def on_order(session: Session, site_code: str) -> dict[str, int]:
    """Units per item on open requisitions of a site (submitted … shipped), approved quantity when known."""
    qty = func.coalesce(LINES.c.approved_quantity, LINES.c.quantity)
    rows = session.execute(
        select(LINES.c.item_code, func.sum(qty))
        .select_from(LINES.join(REQ, REQ.c.id == LINES.c.requisition_id))
        .where(REQ.c.site_code == site_code, REQ.c.status.in_(("submitted", "approved", "picked", "shipped")))
        .group_by(LINES.c.item_code)
    ).all()  # fmt: skip
    return {r[0]: int(r[1] or 0) for r in rows}


def list_requisitions(
    session: Session, site_code: str | None, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Requisitions newest first, optionally one site's and one status's, with line counts."""
    count = select(func.count()).where(LINES.c.requisition_id == REQ.c.id).scalar_subquery()
    query = select(REQ, count.label("line_count")).order_by(REQ.c.urgent.desc(), REQ.c.created_at.desc(), REQ.c.id)
    if site_code is not None:
        query = query.where(REQ.c.site_code == site_code)
    if status:
        query = query.where(REQ.c.status == status)
    return [dict(r) for r in session.execute(query.limit(limit).offset(offset)).mappings()]
