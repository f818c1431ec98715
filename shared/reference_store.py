"""The formulary read model's tables and every statement on them (the store of shared/reference.py).

Written once here, added to each consumer's own metadata: a service never reads the formulary's
database. Snapshots carry versions, so a late, older event never overwrites a newer state, whatever
order the bus delivers them in (tests/faults/test_out_of_order.py):

- items and sites: a snapshot is written only if its `version` is newer than the stored one;
- a retirement (formulary.item.retired) carries no content: the item keeps the content of its last
  published snapshot, with status "retired" and the retirement's version. A publish older than the
  retirement that arrives after it still fills in the content if it is newer than the content
  stored (compared by catalogue version: formulary changes an item at most once per catalogue
  version, and catalogue versions only grow, services/formulary/approval.py), the status stays
  "retired". A retirement of an item not known here yet raises NotYetKnown, so the bus retries it
  after the item's snapshot (dropping it would leave the item active for good);
- stocking lists: written only if their catalogue version is newer than the stored one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Float, Integer, MetaData, String, Table, bindparam, func, select
from sqlalchemy.orm import Session

from shared.db import UtcDateTime


class NotYetKnown(RuntimeError):
    """An event about an item whose snapshot has not arrived here yet: retried, then dead-lettered."""


def add_reference_tables(metadata: MetaData) -> None:
    """Define ref_items, ref_sites and ref_stocklists in a service's metadata."""
    Table(
        "ref_items",
        metadata,
        Column("code", String(40), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("status", String(12), nullable=False),
        Column("kind", String(12), nullable=False),
        Column("generic_name", String(200), nullable=False),
        Column("storage", String(12), nullable=False),
        Column("unit", String(20), nullable=False),
        Column("package_size", Integer, nullable=False),
        Column("volume_cm3", Float, nullable=False),
        Column("weight_g", Float, nullable=False),
        Column("snapshot", JSON, nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )
    Table(
        "ref_sites",
        metadata,
        Column("code", String(40), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("name", String(200), nullable=False),
        Column("level", String(20), nullable=False),
        Column("parent_code", String(40), nullable=True),
        Column("is_hub", Boolean, nullable=False),
        Column("lat", Float, nullable=False),
        Column("lon", Float, nullable=False),
        Column("active", Boolean, nullable=False),
        Column("snapshot", JSON, nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )
    Table(
        "ref_stocklists",
        metadata,
        Column("scope_key", String(60), primary_key=True),
        Column("catalogue_version", Integer, nullable=False),
        Column("item_codes", JSON, nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    )


@lru_cache(maxsize=64)
def _statements(table: Table, key: str) -> tuple[Any, Any, Any]:
    # Built once per table: statements with bound parameters skip SQLAlchemy's per-call
    # construction and cache-key work (a few hundred microseconds each on the consumer's hot path).
    column = table.c[key]
    current = select(*[c for c in table.c if c.name in ("version", "catalogue_version", "status", "snapshot")]).where(
        column == bindparam("_key")
    )
    return current, table.insert(), table.update().where(column == bindparam("_key"))


def upsert_versioned(session: Session, table: Table, code: str, version: int, values: dict[str, Any]) -> bool:
    """Insert or replace the row for code if version is newer than the stored one; True if written."""
    current_q, insert_q, update_q = _statements(table, "code")
    current = session.execute(current_q, {"_key": code}).first()
    if current is None:
        session.execute(insert_q, {"code": code, "version": version, **values})
        return True
    if version <= current.version:
        return False  # an older or repeated snapshot: the newer state stays
    session.execute(update_q, {"_key": code, "version": version, **values})
    return True


def upsert_item(session: Session, items: Table, code: str, version: int, values: dict[str, Any]) -> bool:
    """Write an item snapshot (values: the ref_items columns, `snapshot` the payload as published);
    True if written.

    Newer than the stored version: replaces it. Older than a stored retirement but newer than the
    content that retirement kept (by catalogue version): its content is taken, still retired at the
    retirement's version. Otherwise (older, or the same again) nothing changes.
    """
    current_q, _, update_q = _statements(items, "code")
    current = session.execute(current_q, {"_key": code}).first()
    if current is None or version > current.version:
        return upsert_versioned(session, items, code, version, values)
    kept = int(current.snapshot.get("catalogue_version", 0))
    if current.status != "retired" or version == current.version or values["snapshot"]["catalogue_version"] <= kept:
        return False
    snapshot = dict(values["snapshot"], status="retired", version=current.version)
    session.execute(update_q, {"_key": code, **values, "status": "retired", "version": current.version, "snapshot": snapshot})
    return True


def mark_item_retired(session: Session, items: Table, code: str, version: int, now: Any) -> bool:
    """Set an item retired at version if that is newer than what is stored; True if written.

    The content (and its catalogue version) stays that of the last snapshot. NotYetKnown when the
    item has no row yet: its snapshot is still on the way (or was dead-lettered here).
    """
    current_q, _, update_q = _statements(items, "code")
    row = session.execute(current_q, {"_key": code}).first()
    if row is None:
        raise NotYetKnown(f"item {code} retired at version {version} is not known here yet")
    if version <= row.version:
        return False
    snapshot = dict(row.snapshot, status="retired", version=version)
    session.execute(update_q, {"_key": code, "status": "retired", "version": version, "snapshot": snapshot, "updated_at": now})
    return True


def replace_stocklist(session: Session, stocklists: Table, key: str, catalogue_version: int, codes: list[str], now: Any) -> bool:
    """Store a scope's item list if its catalogue version is newer than the stored one's; True if written."""
    current_q, insert_q, update_q = _statements(stocklists, "scope_key")
    current = session.execute(current_q, {"_key": key}).first()
    values = {"catalogue_version": catalogue_version, "item_codes": sorted(codes), "updated_at": now}
    if current is None:
        session.execute(insert_q, {"scope_key": key, **values})
        return True
    if catalogue_version > current.catalogue_version:
        session.execute(update_q, {"_key": key, **values})
        return True
    return False  # an older list, or the same one again


# --- item search (shared.search.ReferenceIndex) ------------------------------------------------


def items_fingerprint(session: Session, items: Table) -> tuple[Any, ...]:
    """(row count, newest updated_at) of ref_items: changes whenever an item is written."""
    return tuple(session.execute(select(func.count(), func.max(items.c.updated_at)).select_from(items)).one())


def item_stamps(session: Session, items: Table) -> dict[str, tuple[Any, Any]]:
    """code -> (version, updated_at) of every item, in code order."""
    return {r.code: (r.version, r.updated_at) for r in session.execute(
        select(items.c.code, items.c.version, items.c.updated_at).order_by(items.c.code))}  # fmt: skip


def item_snapshots_of(session: Session, items: Table, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """code -> snapshot for those of `codes` that exist (read 500 codes per statement)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(codes), 500):
        chunk = list(codes[start : start + 500])
        found.update((r.code, dict(r.snapshot)) for r in session.execute(
            select(items.c.code, items.c.snapshot).where(items.c.code.in_(chunk))))  # fmt: skip
    return found
