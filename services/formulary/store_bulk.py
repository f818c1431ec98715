"""The statements a large approval needs, many rows per statement (store.py continued).

A 20,000-row import is approved as one batch inside one request: its target items are read and
locked 900 at a time (below SQLite's 999 bound parameters), new rows inserted and existing rows
updated by executemany, and their history rows written the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from services.formulary.store import ITEM_COLUMNS, item_versions, items
from shared.db import lock_for_update

CHUNK = 900


def items_locked(session: Session, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """code -> item (with its search keys) for those of `codes` that exist, locked until the transaction ends."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(codes), CHUNK):
        query = select(items).where(items.c.code.in_(list(codes[start : start + CHUNK]))).order_by(items.c.code)
        for row in session.execute(lock_for_update(query, session)).mappings():
            out[row["code"]] = {k: row[k] for k in (*ITEM_COLUMNS, "pinyin_initials", "search_text")}
    return out


def insert_items(session: Session, rows: list[dict[str, Any]]) -> None:
    """New item rows (each with code, fields, version, status and search keys)."""
    for start in range(0, len(rows), 1000):
        session.execute(insert(items), rows[start : start + 1000])


def update_items(session: Session, rows: list[dict[str, Any]]) -> None:
    """Existing item rows, whole (every row gives the same columns, `code` among them)."""
    if not rows:
        return
    columns = [k for k in rows[0] if k != "code"]
    statement = (
        update(items)
        .where(items.c.code == bindparam("b_code"))
        .values({c: bindparam(f"b_{c}") for c in columns})
        .execution_options(synchronize_session=False)
    )
    params = [{f"b_{k}": v for k, v in row.items()} for row in rows]
    for start in range(0, len(params), 1000):
        session.connection().execute(statement, params[start : start + 1000])


def record_item_versions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Approved versions of items, kept in their history."""
    for start in range(0, len(rows), 1000):
        session.execute(insert(item_versions), rows[start : start + 1000])
