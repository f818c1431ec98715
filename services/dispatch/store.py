"""The dispatch service's tables and every statement that writes them (reads for lists: queries.py).

Fleet, shipments, plans with their progress and claim, stop confirmations. Functions are named in
the dispatcher's words and take the caller's session (one unit of work per use case).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    CursorResult,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from services.dispatch.model import Shipment
from shared.bus.tables import add_bus_tables
from shared.db import UtcDateTime, lock_for_update, new_metadata
from shared.reference import add_reference_tables
from shared.web.idempotency import add_idempotency_table

metadata = new_metadata()
add_bus_tables(metadata)
add_idempotency_table(metadata)
add_reference_tables(metadata)

vehicles = Table(
    "vehicles",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("compartments_l", JSON, nullable=False),
    Column("shift_start", String(5), nullable=False),
    Column("shift_end", String(5), nullable=False),
    Column("break_start", String(5), nullable=True),
    Column("break_end", String(5), nullable=True),
    Column("break_min", Integer, nullable=True),
    Column("max_route_min", Integer, nullable=True),
    Column("max_km", Float, nullable=True),
    Column("fixed_cost", Float, nullable=False),
    Column("cost_per_km", Float, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("driver", String(100), nullable=True),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(60), primary_key=True),
    Column("site_code", String(40), nullable=False),
    Column("source", String(10), nullable=False),  # event | manual
    Column("status", String(12), nullable=False),  # pending | planned | delivered | cancelled
    Column("deliver_l", JSON, nullable=False),
    Column("pickup_l", JSON, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("note", Text, nullable=True),
    Column("deliver_by", String(10), nullable=True),
    Column("plan_id", String(36), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(120), nullable=False),
)
Index("ix_shipments_status", shipments.c.status, shipments.c.site_code)

plans = Table(
    "plans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("date", String(10), nullable=False),
    # queued -> solving -> solved | failed; solved -> published; any -> superseded
    Column("status", String(12), nullable=False),
    Column("request", JSON, nullable=False),  # the solve problem, as POST /solve takes it
    Column("stop_refs", JSON, nullable=False),  # stop id -> shipment ids and rounds
    Column("result", JSON, nullable=True),  # the plan, as POST /solve returns it
    Column("progress", JSON, nullable=False),  # [[seconds, objective], ...]
    Column("error", Text, nullable=True),
    Column("base_plan_id", String(36), nullable=True),
    Column("created_by", String(120), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("heartbeat_at", UtcDateTime(), nullable=True),
    Column("claimed_by", String(60), nullable=True),  # the worker solving it (a fresh id per claim)
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("published_at", UtcDateTime(), nullable=True),
)
Index("ix_plans_status", plans.c.status, plans.c.created_at)

stop_completions = Table(
    "stop_completions",
    metadata,
    Column("plan_id", String(36), primary_key=True),
    Column("stop_id", String(60), primary_key=True),
    Column("completed_at", UtcDateTime(), nullable=False),
    Column("received_by", String(120), nullable=True),
    Column("exceptions", JSON, nullable=False),
    Column("confirmed_by", String(120), nullable=False),
)


def _changed(result: Any) -> bool:
    """True when an UPDATE touched a row (CursorResult.rowcount)."""
    return bool(cast(CursorResult[Any], result).rowcount)


# --- fleet -------------------------------------------------------------------------------------


def vehicle_count(session: Session) -> int:
    """How many vehicles the fleet table holds (active or not)."""
    return int(session.execute(select(func.count()).select_from(vehicles)).scalar_one())


def add_vehicles(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert vehicles (the default fleet of a new hub)."""
    session.execute(insert(vehicles), [dict(r) for r in rows])


def upsert_vehicle(session: Session, row: Mapping[str, Any]) -> None:
    """Add a vehicle, or replace the one with the same id."""
    exists = session.execute(select(vehicles.c.id).where(vehicles.c.id == row["id"])).first()
    if exists:
        session.execute(update(vehicles).where(vehicles.c.id == row["id"]).values(**row))
    else:
        session.execute(insert(vehicles).values(**row))


def active_vehicles(session: Session) -> list[Any]:
    """Active vehicle rows, by id."""
    return list(session.execute(select(vehicles).where(vehicles.c.active.is_(True)).order_by(vehicles.c.id)))


def largest_compartments(session: Session) -> dict[str, float]:
    """The biggest compartment of each kind among active vehicles (litres)."""
    largest: dict[str, float] = {}
    for row in session.execute(select(vehicles.c.compartments_l).where(vehicles.c.active.is_(True))):
        for compartment, litres in row.compartments_l.items():
            largest[compartment] = max(largest.get(compartment, 0.0), float(litres))
    return largest


# --- sites and items (the formulary's reference read model) -------------------------------------


def site_rows(session: Session) -> list[Any]:
    """Every site dispatch has heard of (ref_sites rows), by code."""
    table = metadata.tables["ref_sites"]
    return list(session.execute(select(table).order_by(table.c.code)))


def site_row(session: Session, code: str) -> Any | None:
    """One site's reference row, or None."""
    table = metadata.tables["ref_sites"]
    return session.execute(select(table).where(table.c.code == code)).first()


def item_names(session: Session, codes: Iterable[str]) -> dict[str, dict[str, str]]:
    """Item code -> generic name and unit from the reference catalogue (for manifests)."""
    table = metadata.tables["ref_items"]
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = session.execute(select(table.c.code, table.c.generic_name, table.c.unit).where(table.c.code.in_(wanted)))
    return {r.code: {"name": r.generic_name, "unit": r.unit} for r in rows}


# --- shipments ---------------------------------------------------------------------------------


def shipment_exists(session: Session, shipment_id: str) -> bool:
    """True when a shipment with this id was recorded."""
    return session.execute(select(shipments.c.id).where(shipments.c.id == shipment_id)).first() is not None


def insert_shipment(session: Session, row: Mapping[str, Any]) -> None:
    """Record a shipment."""
    session.execute(insert(shipments).values(**row))


def shipment(session: Session, shipment_id: str, lock: bool = False) -> dict[str, Any] | None:
    """One shipment as a dict (locked for update when ``lock``), or None."""
    query = select(shipments).where(shipments.c.id == shipment_id)
    if lock:
        query = lock_for_update(query, session)
    row = session.execute(query).mappings().first()
    return dict(row) if row is not None else None


def cancel_shipment(session: Session, shipment_id: str) -> bool:
    """Mark a pending shipment cancelled; False when it is no longer pending."""
    done = session.execute(
        update(shipments).where(shipments.c.id == shipment_id, shipments.c.status == "pending").values(status="cancelled")
    )
    return _changed(done)


def _as_shipment(r: Any) -> Shipment:
    return Shipment(r.id, r.site_code, r.deliver_l, r.pickup_l, r.priority, r.source, r.note,
                    date.fromisoformat(r.deliver_by) if r.deliver_by else None)  # fmt: skip


def day_shipments(session: Session, day: str) -> list[Shipment]:
    """What a plan for ``day`` (YYYY-MM-DD) carries, oldest first: every pending shipment, and the
    shipments a plan of that day carries already (planned: a re-plan or a new plan of the day keeps
    them; publishing it moves them over). Delivered and cancelled ones never."""
    of_day = select(plans.c.id).where(plans.c.date == day)
    wanted = or_(shipments.c.status == "pending", and_(shipments.c.status == "planned", shipments.c.plan_id.in_(of_day)))
    rows = session.execute(select(shipments).where(wanted).order_by(shipments.c.created_at, shipments.c.id))
    return [_as_shipment(r) for r in rows]


def release_unrouted(session: Session, day: str, plan_id: str, routed: Sequence[str]) -> None:
    """Shipments planned on the day's other plans that plan ``plan_id`` (being published) leaves off
    its routes wait for a vehicle again (pending, no plan)."""
    others = select(plans.c.id).where(plans.c.date == day, plans.c.id != plan_id)
    query = update(shipments).where(shipments.c.status == "planned", shipments.c.plan_id.in_(others))
    if routed:
        query = query.where(shipments.c.id.not_in(list(routed)))
    session.execute(query.values(status="pending", plan_id=None))


def shipments_by_id(session: Session, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Shipments by id (for manifests)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {r["id"]: dict(r) for r in session.execute(select(shipments).where(shipments.c.id.in_(wanted))).mappings()}


def mark_shipments_planned(session: Session, ids: Sequence[str], plan_id: str) -> None:
    """Shipments a published plan carries (pending or planned ones: never a cancelled or delivered one)."""
    if ids:
        open_ = shipments.c.status.in_(("pending", "planned"))
        session.execute(update(shipments).where(shipments.c.id.in_(ids), open_).values(status="planned", plan_id=plan_id))


def mark_shipments_delivered(session: Session, ids: Sequence[str]) -> None:
    """Shipments a driver confirmed."""
    if ids:
        session.execute(update(shipments).where(shipments.c.id.in_(ids)).values(status="delivered"))


# --- plans -------------------------------------------------------------------------------------


def insert_plan(session: Session, row: Mapping[str, Any]) -> None:
    """Queue a plan."""
    session.execute(insert(plans).values(**row))


def plan(session: Session, plan_id: str, lock: bool = False) -> dict[str, Any] | None:
    """A plan row as a dict (locked for update when ``lock``), or None."""
    query = select(plans).where(plans.c.id == plan_id)
    if lock:
        query = lock_for_update(query, session)
    row = session.execute(query).mappings().first()
    return dict(row) if row is not None else None


def claim_next_plan(session: Session, worker: str, now: datetime, stale_before: datetime) -> str | None:
    """Take the oldest queued plan (or one whose worker stopped beating before ``stale_before``).

    Rows another worker holds are skipped (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the shared
    helper's equivalent on SQLite), so two workers never claim the same plan.
    """
    query = (
        select(plans.c.id)
        .where(or_(plans.c.status == "queued", and_(plans.c.status == "solving", plans.c.heartbeat_at < stale_before)))
        .order_by(plans.c.created_at)
        .limit(1)
    )
    plan_id = session.execute(lock_for_update(query, session, skip_locked=True)).scalar_one_or_none()
    if plan_id is None:
        return None
    session.execute(update(plans).where(plans.c.id == plan_id).values(status="solving", heartbeat_at=now, claimed_by=worker))
    return str(plan_id)


def beat_plan(session: Session, plan_id: str, worker: str, now: datetime, **values: Any) -> bool:
    """Record a solving plan's progress (and optionally its best plan so far); False if no longer ours."""
    done = session.execute(
        update(plans)
        .where(plans.c.id == plan_id, plans.c.status == "solving", plans.c.claimed_by == worker)
        .values(heartbeat_at=now, **values)
    )
    return _changed(done)


def finish_plan(session: Session, plan_id: str, worker: str, now: datetime, **values: Any) -> bool:
    """Store a solve's outcome (solved or failed) unless another worker has taken the plan since."""
    done = session.execute(
        update(plans)
        .where(plans.c.id == plan_id, plans.c.status == "solving", plans.c.claimed_by == worker)
        .values(finished_at=now, heartbeat_at=now, **values)
    )
    return _changed(done)


def plan_counts(session: Session) -> dict[str, int]:
    """How many plans are in each status (queued, solving, solved, failed, ...), for /metrics."""
    rows = session.execute(select(plans.c.status, func.count()).group_by(plans.c.status)).all()
    return {str(status): int(count) for status, count in rows}


def stalest_solving_heartbeat(session: Session) -> datetime | None:
    """The oldest heartbeat among plans being solved, None when none is (for /metrics)."""
    return cast(
        "datetime | None",
        session.execute(select(func.min(plans.c.heartbeat_at)).where(plans.c.status == "solving")).scalar_one_or_none(),
    )


def release_plan(session: Session, plan_id: str, worker: str) -> bool:
    """Hand a plan this worker was solving back to the queue (the worker is stopping)."""
    done = session.execute(
        update(plans)
        .where(plans.c.id == plan_id, plans.c.status == "solving", plans.c.claimed_by == worker)
        .values(status="queued", heartbeat_at=None, claimed_by=None)
    )
    return _changed(done)


def published_plan(session: Session, day: str) -> dict[str, Any] | None:
    """The plan the drivers have for ``day`` (YYYY-MM-DD), locked for update, or None."""
    query = lock_for_update(select(plans).where(plans.c.date == day, plans.c.status == "published"), session)
    row = session.execute(query).mappings().first()
    return dict(row) if row is not None else None


def plan_lineage(session: Session, plan_id: str) -> list[str]:
    """The plan's id and its base plans' ids (the plan it re-planned, that plan's base, ...), newest first."""
    lineage: list[str] = []
    current: str | None = plan_id
    while current is not None and current not in lineage:
        lineage.append(current)
        current = session.execute(select(plans.c.base_plan_id).where(plans.c.id == current)).scalar_one_or_none()
    return lineage


def publish_plan(session: Session, plan_id: str, day: str, now: datetime) -> None:
    """Publish a plan; the day's earlier published plan is superseded so drivers see one."""
    session.execute(update(plans).where(plans.c.date == day, plans.c.status == "published").values(status="superseded"))
    session.execute(update(plans).where(plans.c.id == plan_id).values(status="published", published_at=now))


# --- stop confirmations ------------------------------------------------------------------------


def completion_exists(session: Session, plan_id: str, stop_id: str) -> bool:
    """True when the stop was confirmed already."""
    found = session.execute(
        select(stop_completions.c.stop_id).where(stop_completions.c.plan_id == plan_id, stop_completions.c.stop_id == stop_id)
    ).first()
    return found is not None


def completed_stops(session: Session, plan_ids: Sequence[str]) -> set[str]:
    """Stop ids confirmed on any of the plans (a plan and the plans it was re-planned from)."""
    if not plan_ids:
        return set()
    query = select(stop_completions.c.stop_id).where(stop_completions.c.plan_id.in_(list(plan_ids)))
    return {str(s) for s in session.execute(query).scalars()}


def insert_completion(session: Session, row: Mapping[str, Any]) -> None:
    """Record a driver's confirmation."""
    session.execute(insert(stop_completions).values(**row))
