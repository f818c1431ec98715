"""The formulary's tables and every statement that writes them (SQLAlchemy Core); reads for lists are in queries.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from shared.bus.tables import add_bus_tables
from shared.db import UtcDateTime, lock_for_update, new_metadata
from shared.web.idempotency import add_idempotency_table

metadata = new_metadata()
add_bus_tables(metadata)
add_idempotency_table(metadata)

catalogue_versions = Table(
    "catalogue_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("approved_by", String(120), nullable=False),
    Column("approved_at", UtcDateTime(), nullable=False),
    Column("note", Text, nullable=True),
    Column("change_count", Integer, nullable=False),
    Column("meeting_ref", String(120), nullable=True),
)

items = Table(
    "items",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("catalogue_version", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("generic_name", String(200), nullable=False),
    Column("generic_name_en", String(200), nullable=True),
    Column("trade_name", String(200), nullable=True),
    Column("dosage_form", String(60), nullable=True),
    Column("strength", String(120), nullable=True),
    Column("unit", String(20), nullable=False),
    Column("package_size", Integer, nullable=False),
    Column("package_unit", String(20), nullable=False),
    Column("manufacturer", String(200), nullable=True),
    Column("approval_no", String(60), nullable=True),
    Column("nhsa_code", String(40), nullable=True),
    Column("atc_code", String(7), nullable=True),
    Column("essential", Boolean, nullable=False),
    Column("reimbursement", String(8), nullable=False),
    Column("vbp", Boolean, nullable=False),
    Column("vbp_batch", String(40), nullable=True),
    Column("storage", String(12), nullable=False),
    Column("controlled", String(20), nullable=False),
    Column("antibiotic_tier", String(14), nullable=False),
    Column("high_alert", Boolean, nullable=False),
    Column("volume_cm3", Float, nullable=False),
    Column("weight_g", Float, nullable=False),
    Column("category", String(120), nullable=True),
    Column("pinyin_initials", Text, nullable=False),
    Column("search_text", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
Index("ix_items_pinyin_initials", items.c.pinyin_initials)
Index("ix_items_generic_name", items.c.generic_name)

item_versions = Table(
    "item_versions",
    metadata,
    Column("code", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("catalogue_version", Integer, ForeignKey("catalogue_versions.version"), nullable=False),
    Column("status", String(12), nullable=False),
    Column("snapshot", JSON, nullable=False),
    Column("change_id", String(36), nullable=False),
    Column("approved_by", String(120), nullable=False),
    Column("approved_at", UtcDateTime(), nullable=False),
    Column("proposed_by", String(120), nullable=True),
    Column("reason", Text, nullable=True),
    Column("meeting_ref", String(120), nullable=True),
    PrimaryKeyConstraint("code", "version"),
)

sites = Table(
    "sites",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("catalogue_version", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("tax_id", String(18), nullable=False),
    Column("level", String(20), nullable=False),
    Column("parent_code", String(40), nullable=True),
    Column("is_hub", Boolean, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("receiving_hours", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("address", String(200), nullable=True),
    Column("phone", String(40), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)
Index("ix_sites_level", sites.c.level)

stocklist_entries = Table(
    "stocklist_entries",
    metadata,
    Column("scope_key", String(60), nullable=False),
    Column("item_code", String(40), nullable=False),
    PrimaryKeyConstraint("scope_key", "item_code"),
)

changes = Table(
    "changes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("target", String(60), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(10), nullable=False),
    Column("note", Text, nullable=True),
    Column("base_version", Integer, nullable=True),
    Column("proposed_by", String(120), nullable=False),
    Column("proposed_at", UtcDateTime(), nullable=False),
    # Order within one batch proposal (seed, import): approval applies changes in this order.
    Column("position", Integer, nullable=False, server_default="0"),
    Column("decided_by", String(120), nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("decision_note", Text, nullable=True),
    Column("catalogue_version", Integer, nullable=True),
    Column("reason", Text, nullable=True),
    Column("meeting_ref", String(120), nullable=True),
    Column("flags", JSON, nullable=True),
    Column("batch_id", String(36), nullable=True),
)
Index("ix_changes_status", changes.c.status, changes.c.proposed_at)
Index("ix_changes_batch_id", changes.c.batch_id)
Index("ix_changes_target", changes.c.target)

# One row per stocking list: its version (drafts are made from it) and its category selectors.
stocklists = Table(
    "stocklists",
    metadata,
    Column("scope_key", String(60), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("catalogue_version", Integer, nullable=False),
    Column("selectors", JSON, nullable=False),
)

ITEM_COLUMNS = [
    c.name for c in items.columns if c.name not in ("pinyin_initials", "search_text", "updated_at")
]
SITE_COLUMNS = [c.name for c in sites.columns if c.name not in ("updated_at",)]


# --- items -------------------------------------------------------------------------------------


def item_row(session: Session, code: str) -> dict[str, Any] | None:
    """One item as a dict (None if there is no such item)."""
    row = session.execute(select(items).where(items.c.code == code)).mappings().first()
    return {k: row[k] for k in ITEM_COLUMNS} if row else None


def item_row_locked(session: Session, code: str) -> dict[str, Any] | None:
    """One item, its row locked until the approval's transaction ends (None if there is no such item)."""
    row = (
        session.execute(lock_for_update(select(items).where(items.c.code == code), session))
        .mappings()
        .first()
    )
    return {k: row[k] for k in ITEM_COLUMNS} if row else None


def site_row_locked(session: Session, code: str) -> dict[str, Any] | None:
    """One site, its row locked until the approval's transaction ends."""
    row = (
        session.execute(lock_for_update(select(sites).where(sites.c.code == code), session))
        .mappings()
        .first()
    )
    return {k: row[k] for k in SITE_COLUMNS} if row else None


def item_versions_of(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """code -> current version for those of `codes` that exist."""
    codes = list(codes)
    out: dict[str, int] = {}
    for start in range(0, len(codes), 900):
        chunk = codes[start : start + 900]
        out.update(
            {
                r.code: r.version
                for r in session.execute(select(items.c.code, items.c.version).where(items.c.code.in_(chunk)))
            }
        )
    return out


def items_by_codes(session: Session, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """code -> item for those of `codes` that exist."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(codes), 900):
        chunk = list(codes[start : start + 900])
        for row in session.execute(select(items).where(items.c.code.in_(chunk))).mappings():
            out[row["code"]] = {k: row[k] for k in ITEM_COLUMNS}
    return out


def existing_item_codes(session: Session, codes: Iterable[str]) -> set[str]:
    """Those of `codes` that name an item."""
    return set(item_versions_of(session, codes))


def items_like(session: Session, generic_name: str | None, approval_no: str | None) -> list[dict[str, Any]]:
    """Active items with the same generic name or approval number (duplicate candidates)."""
    conditions = []
    if generic_name:
        conditions.append(items.c.generic_name == generic_name)
    if approval_no:
        conditions.append(items.c.approval_no == approval_no)
    if not conditions:
        return []
    query = (
        select(items)
        .where(items.c.status == "active")
        .where(conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1])
    )
    return [{k: r[k] for k in ITEM_COLUMNS} for r in session.execute(query.limit(20)).mappings()]


def items_named(session: Session, names: Sequence[str], approvals: Sequence[str]) -> list[dict[str, Any]]:
    """Active items whose generic name or approval number is among those given (bulk duplicate candidates)."""
    out: dict[str, dict[str, Any]] = {}
    for column, values in (
        (items.c.generic_name, list(dict.fromkeys(names))),
        (items.c.approval_no, list(dict.fromkeys(approvals))),
    ):
        for start in range(0, len(values), 900):
            query = select(items).where(items.c.status == "active", column.in_(values[start : start + 900]))
            out.update(
                {r["code"]: {k: r[k] for k in ITEM_COLUMNS} for r in session.execute(query).mappings()}
            )
    return list(out.values())


def save_item(session: Session, code: str, values: dict[str, Any], exists: bool) -> None:
    """Insert or update an item's row (values include version, status and search keys)."""
    if exists:
        session.execute(update(items).where(items.c.code == code).values(**values))
    else:
        session.execute(insert(items).values(code=code, **values))


def record_item_version(session: Session, **values: Any) -> None:
    """Keep an approved version of an item in its history."""
    session.execute(insert(item_versions).values(**values))


def item_version_snapshot(session: Session, code: str, version: int) -> dict[str, Any] | None:
    """An item as approved at one version (None if that version does not exist)."""
    row = (
        session.execute(
            select(item_versions).where(item_versions.c.code == code, item_versions.c.version == version)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


# --- sites -------------------------------------------------------------------------------------


def site_row(session: Session, code: str) -> dict[str, Any] | None:
    """One site as a dict, or None."""
    row = session.execute(select(sites).where(sites.c.code == code)).mappings().first()
    return {k: row[k] for k in SITE_COLUMNS} if row else None


def site_children(session: Session, code: str) -> list[tuple[str, str]]:
    """(code, level) of the sites whose parent is `code`."""
    rows = session.execute(
        select(sites.c.code, sites.c.level).where(sites.c.parent_code == code).order_by(sites.c.code)
    )
    return [(r.code, r.level) for r in rows]


def active_child_codes(session: Session, code: str) -> list[str]:
    """Codes of the active sites whose parent is `code`."""
    query = (
        select(sites.c.code)
        .where(sites.c.parent_code == code, sites.c.active.is_(True))
        .order_by(sites.c.code)
    )
    return list(session.execute(query).scalars())


def save_site(session: Session, code: str, values: dict[str, Any], exists: bool) -> None:
    """Insert or update a site's row."""
    if exists:
        session.execute(update(sites).where(sites.c.code == code).values(**values))
    else:
        session.execute(insert(sites).values(code=code, **values))


# --- stocking lists ----------------------------------------------------------------------------


def stocklist_codes(session: Session, scope_key: str) -> list[str]:
    """The item codes named on one stocking list (not those its categories bring in)."""
    rows = session.execute(
        select(stocklist_entries.c.item_code)
        .where(stocklist_entries.c.scope_key == scope_key)
        .order_by("item_code")
    )
    return [r[0] for r in rows]


def stocklist_header(session: Session, scope_key: str) -> dict[str, Any] | None:
    """A list's version, catalogue version and category selectors (None if it was never set)."""
    row = session.execute(select(stocklists).where(stocklists.c.scope_key == scope_key)).mappings().first()
    return dict(row) if row else None


def lists_with_categories(session: Session) -> list[dict[str, Any]]:
    """Every stocking list that names categories (their members move when items change)."""
    return [dict(r) for r in session.execute(select(stocklists)).mappings() if r["selectors"]]


def replace_stocklist(
    session: Session, scope_key: str, codes: Sequence[str], selectors: Sequence[str], version: int
) -> int:
    """Write a list's items and categories; returns the list's new version."""
    header = stocklist_header(session, scope_key)
    session.execute(delete(stocklist_entries).where(stocklist_entries.c.scope_key == scope_key))
    if codes:
        session.execute(insert(stocklist_entries), [{"scope_key": scope_key, "item_code": c} for c in codes])
    new_version = 1 if header is None else int(header["version"]) + 1
    values = {"version": new_version, "catalogue_version": version, "selectors": list(selectors)}
    if header is None:
        session.execute(insert(stocklists).values(scope_key=scope_key, **values))
    else:
        session.execute(update(stocklists).where(stocklists.c.scope_key == scope_key).values(**values))
    return new_version


def touch_stocklist(session: Session, scope_key: str, version: int) -> None:
    """Mark a category list as republished in a catalogue version (its members moved)."""
    session.execute(
        update(stocklists).where(stocklists.c.scope_key == scope_key).values(catalogue_version=version)
    )
