"""The formulary's drafts, committee decisions and catalogue versions: every statement on `changes` and
`catalogue_versions` (store.py continued; the tables themselves are defined in store.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from services.formulary.store import catalogue_versions, changes
from shared.db import lock_for_update


def current_catalogue_version(session: Session) -> int:
    """The newest approved catalogue version (0 before the first approval)."""
    return int(session.execute(select(func.coalesce(func.max(catalogue_versions.c.version), 0))).scalar_one())


def insert_changes(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write drafts (one statement per 500 rows)."""
    for start in range(0, len(rows), 500):
        session.execute(insert(changes), rows[start : start + 500])


def change_row(session: Session, change_id: str) -> Any:
    """One change row, or None."""
    return session.execute(select(changes).where(changes.c.id == change_id)).first()


def lock_changes(session: Session, change_ids: Sequence[str], batch_id: str | None) -> list[Any]:
    """The named changes and/or a batch's drafts, in proposal order, locked for the approval."""
    rows: dict[str, Any] = {}
    for start in range(0, len(change_ids), 900):
        query = select(changes).where(changes.c.id.in_(list(change_ids[start : start + 900])))
        rows.update({r.id: r for r in session.execute(lock_for_update(query, session))})
    if batch_id:
        query = select(changes).where(changes.c.batch_id == batch_id, changes.c.status == "draft")
        rows.update({r.id: r for r in session.execute(lock_for_update(query, session))})
    return sorted(rows.values(), key=lambda r: (r.proposed_at, r.position, r.id))


def draft_site_level(session: Session, code: str) -> str | None:
    """The level a draft proposes for a site not yet approved (a new township and its villages)."""
    row = session.execute(
        select(changes.c.payload).where(
            changes.c.kind == "site_upsert", changes.c.target == code, changes.c.status == "draft"
        )
    ).first()
    return str(row.payload["level"]) if row else None


def drafted_item_codes(session: Session, codes: Iterable[str]) -> set[str]:
    """Those of `codes` that a pending draft creates (a list proposed together with its new items)."""
    codes = list(codes)
    found: set[str] = set()
    for start in range(0, len(codes), 900):
        chunk = codes[start : start + 900]
        found |= set(
            session.execute(
                select(changes.c.target).where(
                    changes.c.kind == "item_create", changes.c.status == "draft", changes.c.target.in_(chunk)
                )
            ).scalars()
        )
    return found


def mark_decided(session: Session, change_ids: Sequence[str], status: str, **values: Any) -> int:
    """Record the committee's decision on drafts; returns how many were still drafts (a change is
    decided once: the database refuses any later update, see the append-only migration)."""
    decided = 0
    for start in range(0, len(change_ids), 900):
        result = session.execute(
            update(changes)
            .where(changes.c.id.in_(list(change_ids[start : start + 900])), changes.c.status == "draft")
            .values(status=status, **values)
        )
        decided += int(result.rowcount)  # type: ignore[attr-defined]
    return decided


def insert_catalogue_version(session: Session, **values: Any) -> None:
    """A new approved catalogue version."""
    session.execute(insert(catalogue_versions).values(**values))
