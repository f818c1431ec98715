"""The read side of a service's formulary read model (ref_items, ref_sites, ref_stocklists).

Every statement the reference API runs is here; item search is shared.search's `ReferenceIndex`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session


def item_snapshot(session: Session, items: Table, code: str) -> dict[str, Any] | None:
    """One item's snapshot, or None when the service has not heard of it."""
    row = session.execute(select(items.c.snapshot).where(items.c.code == code)).first()
    return dict(row[0]) if row else None


def site_snapshots(
    session: Session, sites: Table, *, level: str | None, only: str | None, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Site snapshots by code (a page and the code to continue after, or None at the end)."""
    query = select(sites.c.code, sites.c.snapshot).order_by(sites.c.code).limit(limit + 1)
    if level:
        query = query.where(sites.c.level == level)
    if only is not None:
        query = query.where(sites.c.code == only)
    if after:
        query = query.where(sites.c.code > after)
    rows = session.execute(query).all()
    return [dict(r.snapshot) for r in rows[:limit]], (rows[limit - 1].code if len(rows) > limit else None)


def stocklist(session: Session, stocklists: Table, scope_key: str) -> dict[str, Any] | None:
    """A stocking list as the service knows it (catalogue_version, item_codes), or None."""
    row = session.execute(select(stocklists).where(stocklists.c.scope_key == scope_key)).mappings().first()
    return dict(row) if row else None
