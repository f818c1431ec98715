"""The formulary's read side: search, lists (all keyset-paged the same way), history, batches.

Every list takes `limit` and an opaque `cursor` and returns (rows, next_cursor); a cursor this
API did not give out is a 400 (`shared.search.BadCursor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from services.formulary import store
from services.formulary.model import ChangeKind, selector_matches
from shared.search import (
    BadCursor,
    decode_cursor,
    decode_position,
    encode_position,
    like_filters,
    page_after,
    query_terms,
    sort_key,
)
from shared.search import encode_cursor as encode_search_cursor

SEARCH_COLUMNS = ("code", "generic_name", "generic_name_en", "dosage_form", "essential", "pinyin_initials")




# --- stocking lists ----------------------------------------------------------------------------


def effective_stocklist_key(session: Session, site_code: str) -> str | None:
    """A site's own list if it has one, else its level's list (None: no such site)."""
    own = f"site:{site_code}"
    if store.stocklist_header(session, own) is not None or store.stocklist_codes(session, own):
        return own
    site = store.site_row(session, site_code)
    return f"level:{site['level']}" if site else None


def selector_clause(selector: str) -> ColumnElement[bool]:
    """SQL for one category selector (the same test as model.selector_matches)."""
    items = store.items
    if selector == "essential":
        return items.c.essential == true()
    name, _, value = selector.partition(":")
    if name == "kind":
        return items.c.kind == value
    if name == "atc":
        return items.c.atc_code.like(value + "%")
    return items.c.category == value


def stocklist_clause(session: Session, scope_key: str) -> ColumnElement[bool]:
    """Items on a list: named codes or in one of its categories."""
    entries = select(store.stocklist_entries.c.item_code).where(store.stocklist_entries.c.scope_key == scope_key)
    header = store.stocklist_header(session, scope_key)
    clauses: list[ColumnElement[bool]] = [store.items.c.code.in_(entries)]
    clauses += [selector_clause(s) for s in (header or {}).get("selectors") or []]
    return or_(*clauses)


def stocklist_members(session: Session, scope_key: str) -> list[str]:
    """Every active item code a list holds, named or by category, sorted."""
    query = select(store.items.c.code).where(store.items.c.status == "active", stocklist_clause(session, scope_key))
    named = set(store.stocklist_codes(session, scope_key))
    return sorted(set(session.execute(query).scalars()) | named)


def stocklist_view(session: Session, scope_key: str) -> dict[str, Any]:
    """A list as the API shows it: named codes, categories, every member, version."""
    header = store.stocklist_header(session, scope_key) or {}
    return {
        "item_codes": store.stocklist_codes(session, scope_key),
        "categories": list(header.get("selectors") or []),
        "members": stocklist_members(session, scope_key),
        "version": header.get("version", 0),
        "catalogue_version": header.get("catalogue_version"),
    }


def in_categories(item: dict[str, Any], selectors: Sequence[str]) -> bool:
    """True when an item falls in any of a list's categories."""
    return any(selector_matches(s, item) for s in selectors)


# --- items -------------------------------------------------------------------------------------


def search_items(
    session: Session,
    *,
    q: str | None,
    kind: str | None = None,
    status: str | None = "active",
    scope_key: str | None = None,
    essential: bool | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[dict[str, Any]], str | None]:
    """Items matching q, best first (shared.search's rank), keyset-paged; BadCursor for a bad cursor."""
    after = decode_cursor(cursor)
    items = store.items
    terms = query_terms(q)
    filters: list[ColumnElement[bool]] = like_filters(items.c.search_text, terms)
    if kind:
        filters.append(items.c.kind == kind)
    if status:
        filters.append(items.c.status == status)
    if essential is not None:
        filters.append(items.c.essential == essential)
    if scope_key:
        filters.append(stocklist_clause(session, scope_key))
    if not terms:
        # No query: code order, done by the database (the same keys sort_key gives: (0, 0, code)).
        if after is not None:
            filters.append(items.c.code > after[2])
        rows = session.execute(select(items).where(*filters).order_by(items.c.code).limit(limit + 1)).mappings().all()
        page = rows[:limit]
        nxt = encode_search_cursor((0, 0, page[-1]["code"])) if len(rows) > limit and page else None
        return [{k: r[k] for k in store.ITEM_COLUMNS} for r in page], nxt
    candidates = session.execute(select(*(items.c[c] for c in SEARCH_COLUMNS)).where(*filters)).mappings().all()
    ranked = ((sort_key(dict(r), r["pinyin_initials"].split("|"), terms), r["code"]) for r in candidates)
    codes, nxt = page_after(ranked, after, limit)
    found = store.items_by_codes(session, codes)
    return [found[c] for c in codes if c in found], nxt


def item_history(session: Session, code: str) -> list[dict[str, Any]]:
    """Every approved version of an item, newest first, with proposer, approver, reason and meeting."""
    rows = session.execute(
        select(store.item_versions).where(store.item_versions.c.code == code).order_by(store.item_versions.c.version.desc())
    ).mappings().all()
    return [dict(r) for r in rows]


# --- sites and versions ------------------------------------------------------------------------


def list_sites(
    session: Session, *, level: str | None, parent: str | None, site: str | None, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Sites by code, filtered; `site` confines the list to one site (a storekeeper's scope)."""
    position = decode_position(cursor, (str,))
    sites = store.sites
    query = select(sites).order_by(sites.c.code).limit(limit + 1)
    if level:
        query = query.where(sites.c.level == level)
    if parent:
        query = query.where(sites.c.parent_code == parent)
    if site is not None:
        query = query.where(sites.c.code == site)
    if position:
        query = query.where(sites.c.code > position[0])
    rows = [dict(r) for r in session.execute(query).mappings()]
    return rows[:limit], (encode_position([rows[limit - 1]["code"]]) if len(rows) > limit else None)


def list_versions(session: Session, *, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Approved catalogue versions, newest first."""
    position = decode_position(cursor, (int,))
    cv = store.catalogue_versions
    query = select(cv).order_by(cv.c.version.desc()).limit(limit + 1)
    if position:
        query = query.where(cv.c.version < position[0])
    rows = [dict(r) for r in session.execute(query).mappings()]
    return rows[:limit], (encode_position([rows[limit - 1]["version"]]) if len(rows) > limit else None)


# --- changes -----------------------------------------------------------------------------------


def list_change_rows(
    session: Session, *, status: str | None, target: str | None, batch_id: str | None, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Change rows, oldest first (the committee works through them in order)."""
    position = decode_position(cursor, (str, int, str))
    c = store.changes
    query = select(c).order_by(c.c.proposed_at, c.c.position, c.c.id).limit(limit + 1)
    if status:
        query = query.where(c.c.status == status)
    if target:
        query = query.where(c.c.target == target)
    if batch_id:
        query = query.where(c.c.batch_id == batch_id)
    if position:
        at, pos, cid = position
        try:
            at_value = datetime.fromisoformat(at)
        except ValueError as exc:
            raise BadCursor("the cursor is not one this API gave out", {"cursor": "invalid"}) from exc
        query = query.where(
            or_(c.c.proposed_at > at_value, and_(c.c.proposed_at == at_value, or_(c.c.position > pos, and_(c.c.position == pos, c.c.id > cid))))
        )
    rows = session.execute(query).all()
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = encode_position([last.proposed_at.isoformat(), last.position, last.id])
    return list(rows[:limit]), nxt


def current_states(session: Session, rows: Sequence[Any]) -> dict[str, dict[str, Any] | None]:
    """target -> its current approved state (item, site, or stocking list view) for diffs."""
    out: dict[str, dict[str, Any] | None] = {}
    item_targets = [r.target for r in rows if r.kind.startswith("item_")]
    found = store.items_by_codes(session, item_targets)
    for r in rows:
        if r.target in out:
            continue
        if r.kind.startswith("item_"):
            out[r.target] = found.get(r.target)
        elif r.kind == ChangeKind.SITE_UPSERT.value:
            out[r.target] = store.site_row(session, r.target)
        else:
            header = store.stocklist_header(session, r.target)
            out[r.target] = None if header is None else {
                "version": header["version"], "item_codes": store.stocklist_codes(session, r.target),
                "categories": list(header["selectors"] or []),
            }
    return out


def batches(session: Session, status: str = "draft") -> list[dict[str, Any]]:
    """Import batches with their totals: reviewed by totals and flagged rows, the full list a click away."""
    c = store.changes
    query = (
        select(
            c.c.batch_id, func.min(c.c.proposed_by).label("proposed_by"), func.min(c.c.proposed_at).label("proposed_at"),
            func.min(c.c.reason).label("reason"), func.min(c.c.meeting_ref).label("meeting_ref"),
            func.count().label("total"), func.sum(func.cast(c.c.kind == "item_create", store.Integer)).label("creates"),
        )
        .where(c.c.batch_id.is_not(None), c.c.status == status)
        .group_by(c.c.batch_id)
        .order_by(func.min(c.c.proposed_at))
    )
    out = []
    for r in session.execute(query).mappings():
        flagged = session.execute(
            select(c.c.target, c.c.flags).where(c.c.batch_id == r["batch_id"], c.c.status == status, c.c.flags.is_not(None))
        ).all()
        flagged_rows = [{"target": f.target, "flags": f.flags} for f in flagged if f.flags]
        out.append({**dict(r), "creates": int(r["creates"] or 0), "updates": int(r["total"]) - int(r["creates"] or 0),
                    "flagged": len(flagged_rows), "flagged_rows": flagged_rows[:200]})
    return out
