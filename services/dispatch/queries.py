"""Dispatch's read side: the lists and light views the board and the drivers' pages poll.

Every statement is a plain SELECT over store's tables; writes live in store.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.dispatch.store import plans, shipments, stop_completions, vehicles

PLAN_LIST_LIMIT = 50
# The columns a progress poll needs: never the request or the stop references (hundreds of KB).
_PROGRESS_COLUMNS = (plans.c.id, plans.c.date, plans.c.status, plans.c.progress, plans.c.error, plans.c.base_plan_id,
                     plans.c.created_by, plans.c.created_at, plans.c.finished_at, plans.c.published_at,
                     plans.c.heartbeat_at)  # fmt: skip


def list_shipments(session: Session, status: str, site_code: str | None = None) -> list[dict[str, Any]]:
    """Shipments by status (``all`` for every status), optionally of one site, oldest first."""
    query = select(shipments).order_by(shipments.c.created_at)
    if status != "all":
        query = query.where(shipments.c.status == status)
    if site_code is not None:
        query = query.where(shipments.c.site_code == site_code)
    return [dict(r) for r in session.execute(query).mappings()]


def list_plans(session: Session, day: str | None = None, limit: int = PLAN_LIST_LIMIT) -> list[dict[str, Any]]:
    """Plans newest first (of one day when given), without their request and stop references.

    Of each request only ``late_shipments`` is read (a county day's request is hundreds of KB): the
    shipments carried after their deliver-by day, a list, or None for a plan made before they were
    recorded."""
    late = plans.c.request["late_shipments"].label("late_shipments")
    query = select(*_PROGRESS_COLUMNS, plans.c.result, late).order_by(plans.c.created_at.desc()).limit(limit)
    if day is not None:
        query = query.where(plans.c.date == day)
    return [dict(r) for r in session.execute(query).mappings()]


def plan_status(session: Session, plan_id: str) -> dict[str, Any] | None:
    """A plan's status and objective samples only (what a progress poll needs), or None."""
    row = session.execute(select(*_PROGRESS_COLUMNS).where(plans.c.id == plan_id)).mappings().first()
    return dict(row) if row is not None else None


def plan_result(session: Session, plan_id: str) -> Any:
    """A plan's stored result (the best plan so far while solving), or None."""
    return session.execute(select(plans.c.result).where(plans.c.id == plan_id)).scalar_one_or_none()


def list_completions(session: Session, plan_id: str) -> list[dict[str, Any]]:
    """Stops the drivers confirmed on a plan, in the order they were confirmed."""
    rows = session.execute(
        select(stop_completions).where(stop_completions.c.plan_id == plan_id).order_by(stop_completions.c.completed_at)
    ).mappings()
    return [dict(r) for r in rows]


def list_vehicles(session: Session) -> list[dict[str, Any]]:
    """The whole fleet, by id."""
    return [dict(r) for r in session.execute(select(vehicles).order_by(vehicles.c.id)).mappings()]
