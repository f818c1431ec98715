"""The read side of a service's formulary read model (ref_items, ref_sites, ref_stocklists).

Every statement the reference API runs is here; item search is shared.search's `ReferenceIndex`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from shared.search import BadCursor, check_position_value
from shared.text import BadText
from shared.text import code as normal_code


def as_code(raw: str) -> str | None:
    """A code from a URL or query normalised as the formulary writes codes (ｙｐ０００００７ → YP000007);
    None for text no code can be (control characters, NUL: no database could even compare it)."""
    try:
        return normal_code(raw)
    except BadText:
        return None


def item_snapshot(session: Session, items: Table, code: str) -> dict[str, Any] | None:
    """One item's snapshot (its code normalised), or None when the service has not heard of it."""
    found = as_code(code)
    if found is None:
        return None
    row = session.execute(select(items.c.snapshot).where(items.c.code == found)).first()
    return dict(row[0]) if row else None


def site_snapshots(
    session: Session, sites: Table, *, level: str | None, only: str | None, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Site snapshots by code (a page and the code to continue after, or None at the end); BadCursor for an
    `after` no page gave out."""
    if after:
        try:
            check_position_value(after)
        except ValueError as exc:
            raise BadCursor("the cursor is not one this API gave out", {"cursor": "invalid"}) from exc
    if only is not None:
        only = as_code(only)
        if only is None:
            return [], None
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
    """A stocking list as the service knows it (catalogue_version, item_codes), or None; a site's code normalised."""
    scope, _, value = scope_key.partition(":")
    if scope == "site":
        normal = as_code(value)
        if normal is None:
            return None
        scope_key = f"site:{normal}"
    elif "\x00" in scope_key:
        return None
    row = session.execute(select(stocklists).where(stocklists.c.scope_key == scope_key)).mappings().first()
    return dict(row) if row else None
