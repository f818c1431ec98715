"""Lots and their ledgers: central stock (FEFO, row-locked) and site stock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.procurement.model.ledger import Allocation, Lot
from services.procurement.store import T
from shared.db import is_postgres, lock_for_update

CENTRAL, CENTRAL_MOVES = T["central_lots"], T["central_movements"]
SITE, SITE_MOVES = T["site_lots"], T["site_movements"]


def lock_central_lots(session: Session, item_codes: Iterable[str]) -> list[Lot]:
    """The central lots of the items with stock, locked until commit (in id order: no deadlocks)."""
    query = (
        select(CENTRAL.c.id, CENTRAL.c.item_code, CENTRAL.c.batch_no, CENTRAL.c.expiry, CENTRAL.c.balance, CENTRAL.c.unit_cost)
        .where(CENTRAL.c.item_code.in_(sorted(set(item_codes))), CENTRAL.c.balance > 0)
        .order_by(CENTRAL.c.id)
    )
    rows = session.execute(lock_for_update(query, session)).all()
    return [Lot(r.id, r.item_code, r.batch_no, r.expiry, r.balance, Decimal(r.unit_cost)) for r in rows]


def take_from_central(session: Session, allocations: Sequence[Allocation], kind: str, ref: str, at: datetime) -> None:
    """Book allocations out of central lots (balances down, a movement each); lots must be locked."""
    if allocations:
        # One executemany (psycopg pipelines it): a round trip for the batch, not one per lot.
        session.execute(
            update(CENTRAL).where(CENTRAL.c.id == bindparam("lot")).values(balance=CENTRAL.c.balance - bindparam("taken")),
            [{"lot": a.lot.lot_id, "taken": a.quantity} for a in allocations],
        )
        session.execute(
            insert(CENTRAL_MOVES),
            [{"lot_id": a.lot.lot_id, "kind": kind, "quantity": -a.quantity, "ref": ref, "reason": None, "at": at}
             for a in allocations],
        )  # fmt: skip


def add_central_lot(
    session: Session, item_code: str, batch_no: str, expiry: date, unit_cost: Decimal, quantity: int,
    receipt_id: str, trace_codes: Sequence[str], at: datetime,
) -> int:
    """A new lot from a receipt, with its receipt movement; returns the lot id."""
    lot_id = session.execute(
        insert(CENTRAL).values(
            item_code=item_code, batch_no=batch_no, expiry=expiry, unit_cost=unit_cost, balance=quantity,
            received_quantity=quantity, receipt_id=receipt_id, trace_codes=list(trace_codes), created_at=at,
        ).returning(CENTRAL.c.id)
    ).scalar_one()  # fmt: skip
    session.execute(insert(CENTRAL_MOVES).values(lot_id=lot_id, kind="receipt", quantity=quantity, ref=receipt_id, at=at))
    return int(lot_id)


def central_lots(session: Session, item_code: str | None = None, with_empty: bool = False) -> list[dict[str, Any]]:
    """Central lots (optionally one item's), FEFO order."""
    query = select(CENTRAL).order_by(CENTRAL.c.item_code, CENTRAL.c.expiry, CENTRAL.c.batch_no, CENTRAL.c.id)
    if item_code:
        query = query.where(CENTRAL.c.item_code == item_code)
    if not with_empty:
        query = query.where(CENTRAL.c.balance > 0)
    return [dict(r) for r in session.execute(query).mappings()]


# (item_code, expiry, batch_no, id): a central lot's place in FEFO order
CentralPosition = tuple[str, date, str, int]


def central_lots_page(
    session: Session, item_code: str | None, after: CentralPosition | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` + 1 central lots with stock (optionally one item's) after the position `after`, in FEFO
    order: item, expiry, batch, then id, the unique tie-breaker, so lots with equal keys page exactly once.
    The extra row only tells the caller that another page follows."""
    lot = CENTRAL.c
    query = select(CENTRAL).where(lot.balance > 0).order_by(lot.item_code, lot.expiry, lot.batch_no, lot.id)
    if item_code:
        query = query.where(lot.item_code == item_code)
    if after is not None:
        key = (lot.item_code, lot.expiry, lot.batch_no, lot.id)
        query = query.where(tuple_(*key) > tuple_(*(literal(v, c.type) for v, c in zip(after, key, strict=True))))
    return [dict(r) for r in session.execute(query.limit(limit + 1)).mappings()]


def central_balance_check(session: Session) -> list[tuple[int, int, int]]:
    """(lot id, balance, movement sum) of every lot whose balance differs from its ledger (should be none)."""
    sums = (
        select(CENTRAL_MOVES.c.lot_id, func.sum(CENTRAL_MOVES.c.quantity).label("total"))
        .group_by(CENTRAL_MOVES.c.lot_id).subquery()
    )  # fmt: skip
    rows = session.execute(
        select(CENTRAL.c.id, CENTRAL.c.balance, func.coalesce(sums.c.total, 0))
        .select_from(CENTRAL.outerjoin(sums, sums.c.lot_id == CENTRAL.c.id))
    ).all()  # fmt: skip
    return [(int(r[0]), int(r[1]), int(r[2])) for r in rows if int(r[1]) != int(r[2]) or int(r[1]) < 0]


# --- site stock ---------------------------------------------------------------------------------


def lock_site_stock(session: Session, pairs: Iterable[tuple[str, str]]) -> None:
    """Hold the stock of each (site code, item code) until commit: one writer per site and item at a time.

    Row locks alone cannot cover a site's stock: a lot that does not exist yet has no row to lock
    (two receipts of a new batch both insert it; a count of an item the site never held reads
    nothing), and a transfer locks its giving site's lots but writes the receiving site's. So every
    transaction that writes site stock takes this lock first for every pair it touches, all at once
    and in sorted order (no deadlocks). PostgreSQL: transaction-scoped advisory locks keyed by a
    64-bit hash of the pair (a collision only makes two pairs wait on each other). SQLite: the
    write transaction already holds the whole database (BEGIN IMMEDIATE), nothing more to take.
    """
    if not is_postgres(session):
        return
    for site_code, item_code in sorted(set(pairs)):
        key = func.hashtextextended(f"procurement.site_stock:{site_code}:{item_code}", 0)
        session.execute(select(func.pg_advisory_xact_lock(key)))


def lock_site_lots(session: Session, site_code: str, item_codes: Iterable[str]) -> list[Lot]:
    """A site's lots of the items (any balance), locked until commit (with lock_site_stock on each item)."""
    codes = sorted(set(item_codes))
    lock_site_stock(session, ((site_code, code) for code in codes))
    query = (
        select(SITE.c.id, SITE.c.item_code, SITE.c.batch_no, SITE.c.expiry, SITE.c.balance, SITE.c.unit_cost)
        .where(SITE.c.site_code == site_code, SITE.c.item_code.in_(codes))
        .order_by(SITE.c.id)
    )
    rows = session.execute(lock_for_update(query, session)).all()
    return [Lot(r.id, r.item_code, r.batch_no, r.expiry or date.max, r.balance, Decimal(r.unit_cost)) for r in rows]


def move_site_stock(
    session: Session, site_code: str, item_code: str, batch_no: str, quantity: int, kind: str, *,
    at: datetime, ref: str | None = None, reason: str | None = None, actor: str | None = None,
    expiry: date | None = None, unit_cost: Decimal | None = None, trace_codes: Sequence[str] = (),
) -> None:
    """Add `quantity` (negative to take) to a site's lot, creating it if new, and write the movement.

    The caller holds lock_site_stock for (site_code, item_code), so no one else creates the lot meanwhile.
    """
    lot = SITE.c
    found = session.execute(
        select(lot.id, lot.trace_codes).where(lot.site_code == site_code, lot.item_code == item_code, lot.batch_no == batch_no)
    ).first()
    if found is None:
        session.execute(insert(SITE).values(
            site_code=site_code, item_code=item_code, batch_no=batch_no, expiry=expiry,
            unit_cost=unit_cost or Decimal("0"), balance=quantity, trace_codes=list(trace_codes),
        ))  # fmt: skip
    else:
        values: dict[str, Any] = {"balance": lot.balance + quantity}
        if trace_codes:
            values["trace_codes"] = sorted(set(found.trace_codes or []) | set(trace_codes))
        session.execute(update(SITE).where(lot.id == found.id).values(**values))
    session.execute(insert(SITE_MOVES).values(
        site_code=site_code, item_code=item_code, batch_no=batch_no, kind=kind, quantity=quantity, ref=ref,
        reason=reason, actor=actor, at=at,
    ))  # fmt: skip


def site_lots(
    session: Session,
    site_code: str | None = None,
    item_code: str | None = None,
    item_codes: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Site lots (one site's, one item's or those of `item_codes`, or all), by site, item, expiry."""
    query = select(SITE).order_by(SITE.c.site_code, SITE.c.item_code, SITE.c.expiry, SITE.c.batch_no)
    if site_code:
        query = query.where(SITE.c.site_code == site_code)
    if item_code:
        query = query.where(SITE.c.item_code == item_code)
    if item_codes is not None:
        query = query.where(SITE.c.item_code.in_(sorted(set(item_codes))))
    return [dict(r) for r in session.execute(query).mappings()]


def site_lot_codes(session: Session, site_code: str) -> set[str]:
    """The item codes a site holds a lot of (any balance)."""
    query = select(SITE.c.item_code).where(SITE.c.site_code == site_code).distinct()
    return set(session.execute(query).scalars())


def site_consumption(session: Session, site_code: str, since: datetime) -> dict[str, int]:
    """Units consumed (prescriptions and manual dispensing) per item at a site since a time."""
    rows = session.execute(
        select(SITE_MOVES.c.item_code, func.sum(-SITE_MOVES.c.quantity))
        .where(and_(SITE_MOVES.c.site_code == site_code, SITE_MOVES.c.at >= since,
                    SITE_MOVES.c.kind.in_(("prescription", "dispense"))))
        .group_by(SITE_MOVES.c.item_code)
    ).all()  # fmt: skip
    return {r[0]: int(r[1] or 0) for r in rows}


def site_history(session: Session, site_code: str, item_code: str | None, limit: int) -> list[dict[str, Any]]:
    """A site's latest movements, newest first."""
    query = select(SITE_MOVES).where(SITE_MOVES.c.site_code == site_code)
    if item_code:
        query = query.where(SITE_MOVES.c.item_code == item_code)
    return [dict(r) for r in session.execute(query.order_by(SITE_MOVES.c.id.desc()).limit(limit)).mappings()]


def prescription_seen(session: Session, prescription_id: str, site_code: str, at: datetime) -> bool:
    """Record a consumed prescription; True if it had been consumed already (a re-published approval).

    One INSERT … ON CONFLICT DO NOTHING: two deliveries of the same approval at once (two events,
    two consumers) cannot both take the stock, and the second is a no-op rather than an error.
    On PostgreSQL the second waits for the first transaction and then inserts nothing.
    """
    table = T["consumed_prescriptions"]
    dialect = pg_insert if is_postgres(session) else sqlite_insert
    stmt = dialect(table).values(prescription_id=prescription_id, site_code=site_code, at=at).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports -1 for this statement; a skipped insert returns no row.
    return session.execute(stmt.returning(table.c.prescription_id)).first() is None


def central_lots_by_id(session: Session, lot_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Central lots by id."""
    if not lot_ids:
        return []
    return [dict(r) for r in session.execute(select(CENTRAL).where(CENTRAL.c.id.in_(sorted(set(lot_ids))))).mappings()]
