"""The formulary's tables and queries (SQLAlchemy Core)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
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
    and_,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from shared.bus.tables import add_bus_tables
from shared.db import UtcDateTime, new_metadata
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
    Column("pinyin_initials", String(200), nullable=False),
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
)
Index("ix_changes_status", changes.c.status, changes.c.proposed_at)

ITEM_COLUMNS = [c.name for c in items.columns if c.name not in ("pinyin_initials", "search_text", "updated_at")]
SITE_COLUMNS = [c.name for c in sites.columns if c.name not in ("updated_at",)]


def item_row(session: Session, code: str) -> dict[str, Any] | None:
    """One item as a dict, or None."""
    row = session.execute(select(items).where(items.c.code == code)).mappings().first()
    return {k: row[k] for k in ITEM_COLUMNS} if row else None


def site_row(session: Session, code: str) -> dict[str, Any] | None:
    """One site as a dict, or None."""
    row = session.execute(select(sites).where(sites.c.code == code)).mappings().first()
    return {k: row[k] for k in SITE_COLUMNS} if row else None


def current_catalogue_version(session: Session) -> int:
    """The newest approved catalogue version (0 before the first approval)."""
    return int(session.execute(select(func.coalesce(func.max(catalogue_versions.c.version), 0))).scalar_one())


def stocklist_codes(session: Session, scope_key: str) -> list[str]:
    """The item codes on one stocking list."""
    rows = session.execute(
        select(stocklist_entries.c.item_code).where(stocklist_entries.c.scope_key == scope_key).order_by("item_code")
    )
    return [r[0] for r in rows]


def effective_stocklist_key(session: Session, site_code: str) -> str | None:
    """A site's own list if it has one, else its level's list."""
    own = f"site:{site_code}"
    has_own = session.execute(
        select(literal(1)).where(stocklist_entries.c.scope_key == own).limit(1)
    ).first()
    if has_own:
        return own
    level = session.execute(select(sites.c.level).where(sites.c.code == site_code)).scalar_one_or_none()
    return f"level:{level}" if level else None


def _encode_cursor(rank: int, code: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([rank, code]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """(rank, code) from an opaque cursor; ValueError if it is not one of ours."""
    padded = cursor + "=" * (-len(cursor) % 4)
    rank, code = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(rank, int) or not isinstance(code, str):
        raise ValueError("bad cursor")
    return rank, code


def search_items(
    session: Session,
    *,
    q: str | None,
    kind: str | None = None,
    status: str | None = "active",
    scope_key: str | None = None,
    essential: bool | None = None,
    cursor: tuple[int, str] | None = None,
    limit: int = 20,
) -> tuple[Sequence[dict[str, Any]], str | None]:
    """Items matching q, best matches first (code, then pinyin initials, then name), keyset-paged."""
    rank: ColumnElement[int]
    filters: list[ColumnElement[bool]] = []
    if q:
        needle = q.strip().lower()
        like = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        filters.append(items.c.search_text.like(f"%{like}%", escape="\\"))
        rank = case(
            (func.lower(items.c.code) == needle, 0),
            (items.c.pinyin_initials.like(f"{like}%", escape="\\"), 1),
            (items.c.generic_name.like(f"{like}%", escape="\\"), 2),
            (func.lower(items.c.generic_name_en).like(f"{like}%", escape="\\"), 3),
            else_=4,
        )
    else:
        rank = literal(0)
    if kind:
        filters.append(items.c.kind == kind)
    if status:
        filters.append(items.c.status == status)
    if essential is not None:
        filters.append(items.c.essential == essential)
    if scope_key:
        filters.append(
            items.c.code.in_(select(stocklist_entries.c.item_code).where(stocklist_entries.c.scope_key == scope_key))
        )
    if cursor:
        last_rank, last_code = cursor
        filters.append(or_(rank > last_rank, and_(rank == last_rank, items.c.code > last_code)))
    query = (
        select(items, rank.label("rank"))
        .where(*filters)
        .order_by(rank, items.c.code)
        .limit(limit + 1)
    )
    rows = session.execute(query).mappings().all()
    page = rows[:limit]
    next_cursor = _encode_cursor(int(page[-1]["rank"]), page[-1]["code"]) if len(rows) > limit and page else None
    return [{k: r[k] for k in ITEM_COLUMNS} for r in page], next_cursor
